// Group normalization's raw kernels, shared by GroupNorm, LayerNorm and InstanceNorm: the
// input [N,C,...] viewed as [N,G,D], D = (C/G)*L, L = product of dims after C; within a
// group, element e = j*L + l is channel g*(C/G) + j at position l.
#pragma once

#include <cstdint>
#include <vector>

namespace cnn {

// Where the affine weight/bias of group_norm index: one value per channel ([C]), or one
// per element of a sample (LayerNorm's [C,H,W]).
enum class AffineLayout { PerChannel, PerElement };

// Per (sample, group) statistics of the last group_norm call: mean and biased variance,
// [N*G] in (n, g) order.
struct GroupStatistics {
  std::vector<double> mean, var;
};

struct NGD {
  int64_t n = 0, c = 0, l = 1, g = 1;
  int64_t cpg() const { return c / g; }    // channels per group
  int64_t d() const { return cpg() * l; }  // values per group
  int64_t numel() const { return n * c * l; }
};

// An affine weight or bias: per-channel or per-element values, nullptr when absent
// (weight 1, bias 0).
struct Affine {
  const float* values = nullptr;
  AffineLayout layout = AffineLayout::PerChannel;
};

// x [N,G,D] -> y [N,G,D]; per (n, g): shift (the group's first value) and centre with
// mean = shift + centre, so x - mean = (x - shift) - centre stays accurate far from zero;
// invstd; and, when wanted, the mean and biased variance in double.
void group_norm_forward(const float* x, NGD s, Affine gamma, Affine beta, float eps, float* y,
                        float* shift, float* centre, float* invstd, GroupStatistics* stats);

// dy [N,G,D] -> dx [N,G,D] (when dx != nullptr) and dgamma, dbeta (per channel [C] or per
// element [C*L], when not nullptr). With dxhat = dy*gamma, per (n, g):
//   dx = invstd * (dxhat - mean_D(dxhat) - xhat * mean_D(dxhat*xhat)),
//   dgamma = sum over samples (and positions) of dy*xhat, dbeta = the same of dy.
void group_norm_backward(const float* x, const float* dy, NGD s, Affine gamma, const float* shift,
                         const float* centre, const float* invstd, float* dx, float* dgamma,
                         float* dbeta);

}  // namespace cnn
