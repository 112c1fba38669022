// InstanceNorm2d module: group_norm with one channel per group (kernel in groupnorm.cpp);
// with running statistics, eval is batch_norm's per-channel affine (batchnorm.cpp).
#include "layers/instancenorm.h"

#include <sstream>

#include "layers/batchnorm.h"
#include "layers/groupnorm.h"
#include "layers/registry.h"

namespace cnn {

InstanceNorm2d::InstanceNorm2d(const InstanceNormOptions& options) : options_(options) {
  CNN_CHECK(options.num_features > 0, "instancenorm2d: num_features must be positive, found ",
            options.num_features);
  CNN_CHECK(options.eps > 0.0f, "instancenorm2d: eps must be positive, found ", options.eps);
  CNN_CHECK(options.momentum >= 0.0f && options.momentum <= 1.0f,
            "instancenorm2d: momentum must lie in [0, 1], found ", options.momentum);
  const int64_t c = options.num_features;
  if (options.affine) {
    weight_ = Tensor::ones({c});
    bias_ = Tensor::zeros({c});
  }
  if (options.track_running_stats) {
    running_mean_ = Tensor::zeros({c});
    running_var_ = Tensor::ones({c});
    // Registered as PyTorch's _NormBase does; instance norm never increments it.
    num_batches_tracked_ = Tensor::zeros({}, DType::Int64);
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
  register_buffer("running_mean", &running_mean_);
  register_buffer("running_var", &running_var_);
  register_buffer("num_batches_tracked", &num_batches_tracked_);
}

Tensor InstanceNorm2d::forward(const Tensor& input) {
  const Shape& shape = input.shape();
  output_shape(shape);
  const bool instance_stats = training() || !options_.track_running_stats;
  if (!instance_stats)
    return batch_norm(input, weight_, bias_, running_mean_, running_var_, false, 0.0f, options_.eps,
                      type());

  const int64_t n = shape[0], c = shape[1], hw = shape[2] * shape[3];
  CNN_CHECK(hw > 1,
            "instancenorm2d: Expected more than 1 spatial element when training, got "
            "input size ",
            shape_str(shape), " (a single value per instance normalises to 0)");
  const bool update = training() && options_.track_running_stats;
  GroupStatistics stats;
  Tensor y = group_norm(input, c, weight_, bias_, options_.eps, AffineLayout::PerChannel, type(),
                        update ? &stats : nullptr);
  if (update) {
    // PyTorch updates one copy of the running statistics per instance and averages them:
    // running <- (1 - momentum)*running + momentum*mean over samples (var unbiased).
    const float momentum = options_.momentum;
    const double unbias = static_cast<double>(hw) / static_cast<double>(hw - 1);
    float* rm = running_mean_.data();
    float* rv = running_var_.data();
    for (int64_t ch = 0; ch < c; ++ch) {
      double mean = 0.0, var = 0.0;
      for (int64_t s = 0; s < n; ++s) {
        mean += stats.mean[s * c + ch];
        var += stats.var[s * c + ch] * unbias;
      }
      rm[ch] = (1.0f - momentum) * rm[ch] + momentum * static_cast<float>(mean / n);
      rv[ch] = (1.0f - momentum) * rv[ch] + momentum * static_cast<float>(var / n);
    }
  }
  return y;
}

Shape InstanceNorm2d::output_shape(const Shape& input) const {
  CNN_CHECK(input.size() == 4 && input[1] == options_.num_features,
            "instancenorm2d: expected an input [N, ", options_.num_features, ", H, W], found ",
            shape_str(input));
  return input;
}

std::string InstanceNorm2d::describe() const {
  std::ostringstream out;
  out << "instancenorm2d(" << options_.num_features << ", eps=" << options_.eps
      << ", momentum=" << options_.momentum << ", affine=" << (options_.affine ? "true" : "false")
      << ", track_running_stats=" << (options_.track_running_stats ? "true" : "false") << ")";
  return out.str();
}

InstanceNormOptions instancenorm_options(const LayerArgs& args, int64_t num_features) {
  InstanceNormOptions options;
  options.num_features = num_features;
  options.eps = args.get_float("eps");
  options.affine = args.get_bool("affine");
  options.track_running_stats = args.get_bool("track_running_stats");
  if (options.track_running_stats) {
    CNN_CHECK(!args.is_null("momentum"), args.key_path("momentum"),
              ": null (a cumulative average) is supported by batch norm only; give a number "
              "such as 0.1 for instance norm");
    options.momentum = args.get_float("momentum");
  }
  return options;
}

CNNLAB_REGISTER_LAYER(LayerInfo{
    "instancenorm2d",
    "instance normalization: each sample's channel over (H, W)",
    {{"eps", default_text(InstanceNormOptions().eps),
      "added to the variance before the square root"},
     {"momentum", default_text(InstanceNormOptions().momentum),
      "running-statistics update weight (with track_running_stats)"},
     {"affine", default_text(InstanceNormOptions().affine),
      "learnable per-channel weight (init 1) and bias (init 0)"},
     {"track_running_stats", default_text(InstanceNormOptions().track_running_stats),
      "keep running statistics from training and normalise with them in eval"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      const Shape& in = context.input_shape;
      CNN_CHECK(in.size() == 4, "instancenorm2d: expected an input [N, C, H, W], found ",
                shape_str(in));
      return std::make_shared<InstanceNorm2d>(instancenorm_options(args, in[1]));
    },
    true});

}  // namespace cnn
