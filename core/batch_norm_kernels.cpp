// Batch normalization's kernels (see batch_norm_kernels.h).
#include "core/batch_norm_kernels.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace cnn {

NCL ncl_of(const Shape& shape) {
  NCL g;
  g.n = shape[0];
  g.c = shape[1];
  for (size_t d = 2; d < shape.size(); ++d) g.l *= shape[d];
  return g;
}

namespace {

// The gradient that reaches the normalised value: dy, or with a fused ReLU (kRelu) dy where
// the forward's output was positive. Both backwards recompute that output's sign from x
// with the forward's own float expression (`output`) instead of keeping the output; one
// kernel per case (template), so that neither carries a test that stops vectorization.
template <bool kRelu>
inline float through_relu(float dy, float output) {
  if constexpr (kRelu) {
    return output > 0.0f ? dy : 0.0f;  // a select: dy is loaded either way
  } else {
    return dy;
  }
}

// Channel c of y = ((x - shift) - centre) * k + b, then max(y, 0) with then_relu: the
// forward's float expression, which the fused ReLU's backward recomputes.
inline void normalize_channel(const float* x, NCL g, int64_t c, float shift, float centre,
                              float k, float b, bool then_relu, float* y) {
  for (int64_t n = 0; n < g.n; ++n) {
    const float* row = x + (n * g.c + c) * g.l;
    float* out = y + (n * g.c + c) * g.l;
    if (then_relu) {
#pragma omp simd
      for (int64_t l = 0; l < g.l; ++l) out[l] = std::max(((row[l] - shift) - centre) * k + b, 0.0f);
    } else {
#pragma omp simd
      for (int64_t l = 0; l < g.l; ++l) out[l] = ((row[l] - shift) - centre) * k + b;
    }
  }
}

// Channel c's sum and sum of squares of (x - shift): each row (one sample's L values) is
// summed in float, 8 lanes wide, and the rows are accumulated in double.
inline void shifted_channel_sums(const float* x, NCL g, int64_t c, float shift, double& s,
                                 double& ss) {
  for (int64_t n = 0; n < g.n; ++n) {
    const float* row = x + (n * g.c + c) * g.l;
    float row_s = 0.0f, row_ss = 0.0f;
#pragma omp simd reduction(+ : row_s, row_ss)
    for (int64_t l = 0; l < g.l; ++l) {
      float d = row[l] - shift;
      row_s += d;
      row_ss += d * d;
    }
    s += row_s;
    ss += row_ss;
  }
}

}  // namespace

// ---- training: normalise with the batch's statistics ----------------------------------

// x [N,C,L] -> y [N,C,L]; the statistics are filled (and saved for the backward).
// With then_relu, y = max(y, 0) in the same pass (BN + ReLU fused).
void batch_norm_train_forward(const float* x, NCL g, const float* gamma, const float* beta,
                              float eps, bool then_relu, float* y, BatchStatistics& stats) {
  const int64_t m = g.n * g.l;
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    const float shift = x[c * g.l];
    double s = 0.0, ss = 0.0;
    shifted_channel_sums(x, g, c, shift, s, ss);
    const double mu = s / m;
    const double var = std::max(ss / m - mu * mu, 0.0);
    stats.shift[c] = shift;
    stats.centre[c] = static_cast<float>(mu);
    stats.invstd[c] = static_cast<float>(1.0 / std::sqrt(var + eps));
    stats.mean[c] = shift + mu;
    stats.var[c] = var;
    const float centre = stats.centre[c], k = stats.invstd[c] * gamma[c], b = beta[c];
    stats.scale[c] = k;
    stats.beta[c] = b;
    normalize_channel(x, g, c, shift, centre, k, b, then_relu, y);
  }
}

// dy [N,C,L] -> dx [N,C,L] (when dx != nullptr), dgamma, dbeta [C]. The full gradient
// through the batch mean and variance, with two reductions per channel:
//   dx = (gamma*invstd/m) * (m*dy - sum(dy) - xhat*sum(dy*xhat)),
//   dgamma = sum(dy*xhat), dbeta = sum(dy), xhat = (x - mean)*invstd.
// With kRelu (BN + ReLU fused) dy reaches only where the forward's output was positive.
template <bool kRelu>
void batch_norm_train_backward(const float* x, const float* dy, NCL g, const float* gamma,
                               const BatchStatistics& stats, float* dx, float* dgamma,
                               float* dbeta) {
  const double m = static_cast<double>(g.n * g.l);
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    const float shift = stats.shift[c], centre = stats.centre[c];
    const float scale = stats.scale[c], beta = stats.beta[c];
    // the forward's output before the ReLU, recomputed
    auto output = [&](float x_value) { return ((x_value - shift) - centre) * scale + beta; };
    double sum_dy = 0.0, sum_dy_xmu = 0.0;  // rows in float, across rows in double
    for (int64_t n = 0; n < g.n; ++n) {
      const float* xr = x + (n * g.c + c) * g.l;
      const float* dr = dy + (n * g.c + c) * g.l;
      float row_dy = 0.0f, row_dy_xmu = 0.0f;
#pragma omp simd reduction(+ : row_dy, row_dy_xmu)
      for (int64_t l = 0; l < g.l; ++l) {
        const float d = through_relu<kRelu>(dr[l], output(xr[l]));
        row_dy += d;
        row_dy_xmu += d * ((xr[l] - shift) - centre);
      }
      sum_dy += row_dy;
      sum_dy_xmu += row_dy_xmu;
    }
    const double is = stats.invstd[c];
    dgamma[c] = static_cast<float>(sum_dy_xmu * is);
    dbeta[c] = static_cast<float>(sum_dy);
    if (!dx) continue;
    // dx = k*dy + a*(x - mean) + b, the formula above expanded per channel.
    const double k = gamma[c] * is;
    const float kf = static_cast<float>(k);
    const float a = static_cast<float>(-k * is * is * sum_dy_xmu / m);
    const float b = static_cast<float>(-k * sum_dy / m);
    const int64_t L = g.l;  // a local bound: `out` might otherwise alias g for the compiler
    for (int64_t n = 0; n < g.n; ++n) {
      const float* xr = x + (n * g.c + c) * L;
      const float* dr = dy + (n * g.c + c) * L;
      float* out = dx + (n * g.c + c) * L;
#pragma omp simd
      for (int64_t l = 0; l < L; ++l)
        out[l] = kf * through_relu<kRelu>(dr[l], output(xr[l])) +
                 a * ((xr[l] - shift) - centre) + b;
    }
  }
}

// ---- synchronized: statistics summed over processes ------------------------------------

void batch_norm_channel_sums(const float* x, NCL g, const float* shift, double* sums) {
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    double s = 0.0, ss = 0.0;
    shifted_channel_sums(x, g, c, shift[c], s, ss);
    sums[c] = s;
    sums[g.c + c] = ss;
    sums[2 * g.c + c] = static_cast<double>(g.n * g.l);
  }
}

void batch_statistics_from_sums(const double* sums, const float* shift, const float* gamma,
                                const float* beta, float eps, BatchStatistics& stats) {
  const int64_t channels = static_cast<int64_t>(stats.shift.size());
  for (int64_t c = 0; c < channels; ++c) {
    const double m = sums[2 * channels + c];
    const double mu = sums[c] / m;
    const double var = std::max(sums[channels + c] / m - mu * mu, 0.0);
    stats.shift[c] = shift[c];
    stats.centre[c] = static_cast<float>(mu);
    stats.invstd[c] = static_cast<float>(1.0 / std::sqrt(var + eps));
    stats.mean[c] = shift[c] + mu;
    stats.var[c] = var;
    stats.scale[c] = stats.invstd[c] * gamma[c];
    stats.beta[c] = beta[c];
  }
}

void batch_norm_apply(const float* x, NCL g, const BatchStatistics& stats, bool then_relu,
                      float* y) {
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    const float shift = stats.shift[c], centre = stats.centre[c], k = stats.scale[c],
                b = stats.beta[c];
    normalize_channel(x, g, c, shift, centre, k, b, then_relu, y);
  }
}

template <bool kRelu>
void batch_norm_backward_sums(const float* x, const float* dy, NCL g,
                              const BatchStatistics& stats, double* sums, float* dgamma,
                              float* dbeta) {
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    const float shift = stats.shift[c], centre = stats.centre[c];
    const float scale = stats.scale[c], beta = stats.beta[c];
    auto output = [&](float x_value) { return ((x_value - shift) - centre) * scale + beta; };
    double sum_dy = 0.0, sum_dy_xmu = 0.0;
    for (int64_t n = 0; n < g.n; ++n) {
      const float* xr = x + (n * g.c + c) * g.l;
      const float* dr = dy + (n * g.c + c) * g.l;
      float row_dy = 0.0f, row_dy_xmu = 0.0f;
#pragma omp simd reduction(+ : row_dy, row_dy_xmu)
      for (int64_t l = 0; l < g.l; ++l) {
        const float d = through_relu<kRelu>(dr[l], output(xr[l]));
        row_dy += d;
        row_dy_xmu += d * ((xr[l] - shift) - centre);
      }
      sum_dy += row_dy;
      sum_dy_xmu += row_dy_xmu;
    }
    sums[c] = sum_dy;
    sums[g.c + c] = sum_dy_xmu;
    dgamma[c] = static_cast<float>(sum_dy_xmu * stats.invstd[c]);
    dbeta[c] = static_cast<float>(sum_dy);
  }
}

template <bool kRelu>
void batch_norm_backward_apply(const float* x, const float* dy, NCL g, const float* gamma,
                               const BatchStatistics& stats, const double* sums,
                               const double* count, float* dx) {
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    const float shift = stats.shift[c], centre = stats.centre[c];
    const float scale = stats.scale[c], beta = stats.beta[c];
    auto output = [&](float x_value) { return ((x_value - shift) - centre) * scale + beta; };
    const double m = count[c], is = stats.invstd[c];
    const double k = gamma[c] * is;
    const float kf = static_cast<float>(k);
    const float a = static_cast<float>(-k * is * is * sums[g.c + c] / m);
    const float b = static_cast<float>(-k * sums[c] / m);
    const int64_t L = g.l;
    for (int64_t n = 0; n < g.n; ++n) {
      const float* xr = x + (n * g.c + c) * L;
      const float* dr = dy + (n * g.c + c) * L;
      float* out = dx + (n * g.c + c) * L;
#pragma omp simd
      for (int64_t l = 0; l < L; ++l)
        out[l] = kf * through_relu<kRelu>(dr[l], output(xr[l])) +
                 a * ((xr[l] - shift) - centre) + b;
    }
  }
}

template void batch_norm_backward_sums<true>(const float*, const float*, NCL,
                                             const BatchStatistics&, double*, float*, float*);
template void batch_norm_backward_sums<false>(const float*, const float*, NCL,
                                              const BatchStatistics&, double*, float*, float*);
template void batch_norm_backward_apply<true>(const float*, const float*, NCL, const float*,
                                              const BatchStatistics&, const double*,
                                              const double*, float*);
template void batch_norm_backward_apply<false>(const float*, const float*, NCL, const float*,
                                               const BatchStatistics&, const double*,
                                               const double*, float*);

// ---- inference: normalise with fixed (running) statistics ------------------------------

// x [N,C,L] -> y = x*scale[c] + shift[c] with scale = gamma*invstd, shift = beta - mean*scale.
void channel_affine_forward(const float* x, NCL g, const float* scale, const float* shift,
                            bool then_relu, float* y) {
#pragma omp parallel for collapse(2) schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c) {
      const float* row = x + (n * g.c + c) * g.l;
      float* out = y + (n * g.c + c) * g.l;
      const float k = scale[c], b = shift[c];
      if (then_relu) {
#pragma omp simd
        for (int64_t l = 0; l < g.l; ++l) out[l] = std::max(row[l] * k + b, 0.0f);
      } else {
#pragma omp simd
        for (int64_t l = 0; l < g.l; ++l) out[l] = row[l] * k + b;
      }
    }
}

// dy [N,C,L] -> dx = dy*scale[c]; dgamma[c] = sum(dy*(x - mean))*invstd; dbeta[c] = sum(dy).
template <bool kRelu>
void channel_affine_backward(const float* x, const float* dy, NCL g, const float* scale,
                             const float* shift, const float* mean, const float* invstd,
                             float* dx, float* dgamma, float* dbeta) {
#pragma omp parallel for schedule(static) if (g.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < g.c; ++c) {
    const float mc = mean[c], k = scale[c], b = shift[c];
    double sum_dy = 0.0, sum_dy_xmu = 0.0;
    for (int64_t n = 0; n < g.n; ++n) {
      const float* xr = x + (n * g.c + c) * g.l;
      const float* dr = dy + (n * g.c + c) * g.l;
      float* out = dx ? dx + (n * g.c + c) * g.l : nullptr;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xmu)
      for (int64_t l = 0; l < g.l; ++l) {
        const float d = through_relu<kRelu>(dr[l], xr[l] * k + b);
        sum_dy += d;
        sum_dy_xmu += static_cast<double>(d) * (xr[l] - mc);
      }
      if (out) {
#pragma omp simd
        for (int64_t l = 0; l < g.l; ++l) out[l] = through_relu<kRelu>(dr[l], xr[l] * k + b) * k;
      }
    }
    dgamma[c] = static_cast<float>(sum_dy_xmu * invstd[c]);
    dbeta[c] = static_cast<float>(sum_dy);
  }
}

template void batch_norm_train_backward<true>(const float*, const float*, NCL, const float*,
                                              const BatchStatistics&, float*, float*, float*);
template void batch_norm_train_backward<false>(const float*, const float*, NCL, const float*,
                                               const BatchStatistics&, float*, float*, float*);
template void channel_affine_backward<true>(const float*, const float*, NCL, const float*,
                                            const float*, const float*, const float*, float*,
                                            float*, float*);
template void channel_affine_backward<false>(const float*, const float*, NCL, const float*,
                                             const float*, const float*, const float*, float*,
                                             float*, float*);

}  // namespace cnn
