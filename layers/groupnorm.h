// Group normalization (Wu & He 2018): each sample's channels are split into groups of
// consecutive channels, and each group is normalised over its (C/G, H, W) values.
// The fused kernel here (group_norm) also serves LayerNorm (one group, per-element
// affine) and InstanceNorm (one channel per group).
//
//   GroupNormOptions options;  options.num_channels = 64;  options.num_groups = 32;
//   GroupNorm gn(options);
//   Tensor y = gn(x);  // same in training and eval: no running statistics
#pragma once

#include <string>
#include <vector>

#include "core/group_norm_kernels.h"
#include "layers/module.h"

namespace cnn {

struct GroupNormOptions {
  int64_t num_channels = 0;
  // Requested groups; the layer uses the largest divisor of num_channels that is <= this
  // (so the paper's 32 also works for 8 or 48 channels), see effective_num_groups.
  int64_t num_groups = 32;
  float eps = 1e-5f;
  bool affine = true;  // per-channel weight (init 1) and bias (init 0)
};

// The largest divisor of `channels` that is <= `requested` (at least 1).
int64_t effective_num_groups(int64_t channels, int64_t requested);

// input [N,C,...] -> output of the same shape, each sample's group g (channels
// g*C/G .. (g+1)*C/G - 1, all positions) normalised with its own mean and biased variance,
// then y = xhat*weight + bias (weight/bias may be undefined). `groups` must divide C.
// One fused op on the tape; `stats`, when given, receives the statistics.
Tensor group_norm(const Tensor& input, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps, AffineLayout layout, const std::string& who,
                  GroupStatistics* stats = nullptr);

class GroupNorm : public Module {
 public:
  explicit GroupNorm(const GroupNormOptions& options);
  Tensor forward(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "groupnorm"; }
  std::string describe() const override;

  const GroupNormOptions& options() const { return options_; }
  int64_t num_groups() const { return groups_; }  // the groups actually used
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }

 private:
  GroupNormOptions options_;
  int64_t groups_ = 1;
  Tensor weight_, bias_;  // [C]
};

class LayerArgs;
// Reads num_groups, eps and affine (shared with the `norm` switch).
GroupNormOptions groupnorm_options(const LayerArgs& args, int64_t num_channels);

}  // namespace cnn
