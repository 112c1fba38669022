// Group normalization's kernels (see group_norm_kernels.h).
#include "core/group_norm_kernels.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace cnn {

// x [N,G,D] -> y [N,G,D]; per (n, g): shift (the group's first value) and centre with
// mean = shift + centre, so x - mean = (x - shift) - centre stays accurate far from zero;
// invstd; and, when wanted, the mean and biased variance in double.
void group_norm_forward(const float* x, NGD s, Affine gamma, Affine beta, float eps, float* y,
                        float* shift, float* centre, float* invstd, GroupStatistics* stats) {
  const int64_t d = s.d(), groups = s.n * s.g;
#pragma omp parallel for schedule(static) if (s.numel() > kParallelMinNormElements)
  for (int64_t ng = 0; ng < groups; ++ng) {
    const float* xp = x + ng * d;
    const float first = xp[0];  // accumulate around a value of the group: no cancellation
    double sum = 0.0, sum_sq = 0.0;
#pragma omp simd reduction(+ : sum, sum_sq)
    for (int64_t e = 0; e < d; ++e) {
      double v = static_cast<double>(xp[e]) - first;
      sum += v;
      sum_sq += v * v;
    }
    double mu = sum / d;
    double var = std::max(sum_sq / d - mu * mu, 0.0);
    shift[ng] = first;
    centre[ng] = static_cast<float>(mu);
    invstd[ng] = static_cast<float>(1.0 / std::sqrt(var + eps));
    if (stats) {
      stats->mean[ng] = first + mu;
      stats->var[ng] = var;
    }
    const float sh = first, m = centre[ng], is = invstd[ng];
    const int64_t group = ng % s.g;
    float* yp = y + ng * d;
    if (gamma.layout == AffineLayout::PerElement) {
      const float* w = gamma.values ? gamma.values + group * d : nullptr;
      const float* b = beta.values ? beta.values + group * d : nullptr;
#pragma omp simd
      for (int64_t e = 0; e < d; ++e)
        yp[e] = ((xp[e] - sh) - m) * is * (w ? w[e] : 1.0f) + (b ? b[e] : 0.0f);
    } else {
      for (int64_t j = 0; j < s.cpg(); ++j) {
        const int64_t c = group * s.cpg() + j;
        const float k = is * (gamma.values ? gamma.values[c] : 1.0f);
        const float b = beta.values ? beta.values[c] : 0.0f;
        const float* xr = xp + j * s.l;
        float* yr = yp + j * s.l;
#pragma omp simd
        for (int64_t l = 0; l < s.l; ++l) yr[l] = ((xr[l] - sh) - m) * k + b;
      }
    }
  }
}

// dy [N,G,D] -> dx [N,G,D] (when dx != nullptr) and dgamma, dbeta (per channel [C] or per
// element [C*L], when not nullptr). With dxhat = dy*gamma, per (n, g):
//   dx = invstd * (dxhat - mean_D(dxhat) - xhat * mean_D(dxhat*xhat)),
//   dgamma = sum over samples (and positions) of dy*xhat, dbeta = the same of dy.
void group_norm_backward(const float* x, const float* dy, NGD s, Affine gamma, const float* shift,
                         const float* centre, const float* invstd, float* dx, float* dgamma,
                         float* dbeta) {
  const int64_t d = s.d(), groups = s.n * s.g;
  const bool per_element = gamma.layout == AffineLayout::PerElement;
  if (dx) {
#pragma omp parallel for schedule(static) if (s.numel() > kParallelMinNormElements)
    for (int64_t ng = 0; ng < groups; ++ng) {
      const float* xp = x + ng * d;
      const float* dp = dy + ng * d;
      float* out = dx + ng * d;
      const int64_t group = ng % s.g;
      const float sh = shift[ng], m = centre[ng];
      // gamma for element e of this group: per element, or channel group*cpg + e/L.
      const float* w_elem = gamma.values && per_element ? gamma.values + group * d : nullptr;
      const float* w_chan = gamma.values && !per_element ? gamma.values + group * s.cpg() : nullptr;
      double sum_dxhat = 0.0, sum_dxhat_xmu = 0.0;
      for (int64_t j = 0; j < s.cpg(); ++j) {
        const float wc = w_chan ? w_chan[j] : 1.0f;
        const float* we = w_elem ? w_elem + j * s.l : nullptr;
        const float* xr = xp + j * s.l;
        const float* dr = dp + j * s.l;
        double row = 0.0, row_xmu = 0.0;
#pragma omp simd reduction(+ : row, row_xmu)
        for (int64_t l = 0; l < s.l; ++l) {
          double dxhat = static_cast<double>(dr[l]) * (we ? we[l] : wc);
          row += dxhat;
          row_xmu += dxhat * ((xr[l] - sh) - m);
        }
        sum_dxhat += row;
        sum_dxhat_xmu += row_xmu;
      }
      const double is = invstd[ng];
      // dx = is*dxhat + a*(x - mean) + b, the formula above expanded.
      const float a = static_cast<float>(-is * is * is * sum_dxhat_xmu / d);
      const float b = static_cast<float>(-is * sum_dxhat / d);
      for (int64_t j = 0; j < s.cpg(); ++j) {
        const float kc = static_cast<float>(is) * (w_chan ? w_chan[j] : 1.0f);
        const float* we = w_elem ? w_elem + j * s.l : nullptr;
        const float* xr = xp + j * s.l;
        const float* dr = dp + j * s.l;
        float* outr = out + j * s.l;
        const float isf = static_cast<float>(is);
#pragma omp simd
        for (int64_t l = 0; l < s.l; ++l)
          outr[l] = (we ? isf * we[l] : kc) * dr[l] + a * ((xr[l] - sh) - m) + b;
      }
    }
  }
  if (!dgamma && !dbeta) return;
  if (per_element) {
    const int64_t elements = s.c * s.l;
#pragma omp parallel for schedule(static) if (s.numel() > kParallelMinNormElements)
    for (int64_t i = 0; i < elements; ++i) {
      const int64_t group = i / d;
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for (int64_t n = 0; n < s.n; ++n) {
        const int64_t ng = n * s.g + group, at = n * elements + i;
        sum_dy += dy[at];
        sum_dy_xhat +=
            static_cast<double>(dy[at]) * ((x[at] - shift[ng]) - centre[ng]) * invstd[ng];
      }
      if (dgamma) dgamma[i] = static_cast<float>(sum_dy_xhat);
      if (dbeta) dbeta[i] = static_cast<float>(sum_dy);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (s.numel() > kParallelMinNormElements)
  for (int64_t c = 0; c < s.c; ++c) {
    const int64_t group = c / s.cpg();
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t n = 0; n < s.n; ++n) {
      const int64_t ng = n * s.g + group, at = (n * s.c + c) * s.l;
      const float sh = shift[ng], m = centre[ng];
      double row_dy = 0.0, row_dy_xmu = 0.0;
#pragma omp simd reduction(+ : row_dy, row_dy_xmu)
      for (int64_t l = 0; l < s.l; ++l) {
        row_dy += dy[at + l];
        row_dy_xmu += static_cast<double>(dy[at + l]) * ((x[at + l] - sh) - m);
      }
      sum_dy += row_dy;
      sum_dy_xhat += row_dy_xmu * invstd[ng];
    }
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
  }
}


}  // namespace cnn
