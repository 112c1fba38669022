// Instance normalization (Ulyanov et al. 2016): each sample's channel normalised over its
// (H, W) values, as torch.nn.InstanceNorm2d: affine and running statistics off by default.
//
//   InstanceNormOptions options;  options.num_features = 16;
//   InstanceNorm2d in(options);
//   Tensor y = in(x);  // x [N,16,H,W]
#pragma once

#include <string>

#include "layers/module.h"

namespace cnn {

struct InstanceNormOptions {
  int64_t num_features = 0;
  float eps = 1e-5f;
  float momentum = 0.1f;  // PyTorch's convention, used only with track_running_stats
  bool affine = false;    // per-channel weight (init 1) and bias (init 0)
  // true: training updates running_mean/running_var (averaged over the batch's instances)
  // and eval normalises with them, as PyTorch; false: instance statistics always.
  bool track_running_stats = false;
};

class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(const InstanceNormOptions& options);
  Tensor forward(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "instancenorm2d"; }
  std::string describe() const override;

  const InstanceNormOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }

 private:
  InstanceNormOptions options_;
  Tensor weight_, bias_;                                     // [C] when affine
  Tensor running_mean_, running_var_, num_batches_tracked_;  // when track_running_stats
};

class LayerArgs;
// Reads eps, momentum, affine and track_running_stats (shared with the `norm` switch).
InstanceNormOptions instancenorm_options(const LayerArgs& args, int64_t num_features);

}  // namespace cnn
