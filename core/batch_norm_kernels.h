// Batch normalization's raw kernels over float buffers viewed as [N,C,L] (L = H*W for 2-D
// maps): the training forward with batch statistics (one pass per channel, in double) and
// its backward, the inference affine and its backward. layers/batchnorm.cpp wraps them in
// the differentiable batch_norm and the module; with kRelu / then_relu a following ReLU is
// fused (the backward recomputes its mask from x).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace cnn {

struct NCL {
  int64_t n = 0, c = 0, l = 1;
  int64_t numel() const { return n * c * l; }
};

// [N, C, rest...] -> {N, C, product of the rest}.
NCL ncl_of(const Shape& shape);

// Per-channel batch statistics. The mean is kept as shift + centre, shift being one of the
// channel's values: x - mean is computed as (x - shift) - centre, where x - shift is exact
// for nearby values, so inputs far from zero (a mean of 1000, a spread of 0.01) still
// normalise to float accuracy. Statistics are accumulated in double, in one pass.
struct BatchStatistics {
  std::vector<float> shift, centre, invstd;  // [C]
  std::vector<double> mean, var;             // [C], var biased
  // The forward's affine y = ((x - shift) - centre) * scale + beta, kept so that the
  // backward of a fused ReLU recomputes its mask from x (bit for bit) instead of reading y.
  std::vector<float> scale, beta;
  explicit BatchStatistics(int64_t c)
      : shift(c), centre(c), invstd(c), mean(c), var(c), scale(c), beta(c) {}
};

// x [N,C,L] -> y [N,C,L]; the statistics are filled (and saved for the backward).
// With then_relu, y = max(y, 0) in the same pass (BN + ReLU fused).
void batch_norm_train_forward(const float* x, NCL g, const float* gamma, const float* beta,
                              float eps, bool then_relu, float* y, BatchStatistics& stats);

// dy [N,C,L] -> dx [N,C,L] (when dx != nullptr), dgamma, dbeta [C]. The full gradient
// through the batch mean and variance, with two reductions per channel:
//   dx = (gamma*invstd/m) * (m*dy - sum(dy) - xhat*sum(dy*xhat)),
//   dgamma = sum(dy*xhat), dbeta = sum(dy), xhat = (x - mean)*invstd.
// With kRelu (BN + ReLU fused) dy reaches only where the forward's output was positive.
template <bool kRelu>
void batch_norm_train_backward(const float* x, const float* dy, NCL g, const float* gamma,
                               const BatchStatistics& stats, float* dx, float* dgamma,
                               float* dbeta);

// ---- the same, split where synchronized batch norm sums over processes ------------------
// SyncBatchNorm (layers/batchnorm.cpp) computes the statistics of the batch of every process:
// each sums its part (these kernels), the sums are added across processes, and each then
// normalises its part with the global statistics. The single-process kernels above stay as
// they are (their one-pass numerics are what plain batch norm is checked against).

// sums [3C]: per channel sum(x - shift[c]), sum((x - shift[c])^2) in double (rows in float,
// as above), and the count N*L. `shift` must be the same on every process.
void batch_norm_channel_sums(const float* x, NCL g, const float* shift, double* sums);

// The statistics from the global sums (count = sums[2C + c]); fills every field of `stats`.
void batch_statistics_from_sums(const double* sums, const float* shift, const float* gamma,
                                const float* beta, float eps, BatchStatistics& stats);

// y = ((x - shift) - centre) * scale + beta with the given statistics (then_relu: max(y, 0)).
void batch_norm_apply(const float* x, NCL g, const BatchStatistics& stats, bool then_relu,
                      float* y);

// sums [2C]: per channel sum(dy), sum(dy * (x - mean)) (dy through the fused ReLU with
// kRelu); dgamma = sum(dy * (x - mean)) * invstd and dbeta = sum(dy), both from this
// process's part alone (the gradient averaging across processes adds them up).
template <bool kRelu>
void batch_norm_backward_sums(const float* x, const float* dy, NCL g,
                              const BatchStatistics& stats, double* sums, float* dgamma,
                              float* dbeta);

// dx from the global sums [2C] and the global count per channel:
//   dx = k*dy - k*invstd^2*sum(dy*(x-mean))/m * (x - mean) - k*sum(dy)/m, k = gamma*invstd.
template <bool kRelu>
void batch_norm_backward_apply(const float* x, const float* dy, NCL g, const float* gamma,
                               const BatchStatistics& stats, const double* sums,
                               const double* count, float* dx);

// x [N,C,L] -> y = x*scale[c] + shift[c] with scale = gamma*invstd, shift = beta - mean*scale.
void channel_affine_forward(const float* x, NCL g, const float* scale, const float* shift,
                            bool then_relu, float* y);

// dy [N,C,L] -> dx = dy*scale[c]; dgamma[c] = sum(dy*(x - mean))*invstd; dbeta[c] = sum(dy).
template <bool kRelu>
void channel_affine_backward(const float* x, const float* dy, NCL g, const float* scale,
                             const float* shift, const float* mean, const float* invstd,
                             float* dx, float* dgamma, float* dbeta);

}  // namespace cnn
