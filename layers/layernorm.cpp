// LayerNorm module: group_norm with one group and a per-element affine (the fused kernel
// and its backward live in groupnorm.cpp).
#include "layers/layernorm.h"

#include <sstream>

#include "layers/groupnorm.h"
#include "layers/registry.h"

namespace cnn {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  CNN_CHECK(!options.normalized_shape.empty() && shape_numel(options.normalized_shape) > 0,
            "layernorm: normalized_shape must be non-empty, found ",
            shape_str(options.normalized_shape));
  CNN_CHECK(options.eps > 0.0f, "layernorm: eps must be positive, found ", options.eps);
  if (options.elementwise_affine) {
    weight_ = Tensor::ones(options.normalized_shape);
    bias_ = Tensor::zeros(options.normalized_shape);
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Tensor LayerNorm::forward(const Tensor& input) {
  output_shape(input.shape());
  return group_norm(input, 1, weight_, bias_, options_.eps, AffineLayout::PerElement, type());
}

Shape LayerNorm::output_shape(const Shape& input) const {
  Shape per_sample(input.begin() + (input.empty() ? 0 : 1), input.end());
  CNN_CHECK(input.size() >= 2 && per_sample == options_.normalized_shape,
            "layernorm: expected an input [N] + ", shape_str(options_.normalized_shape),
            " (normalized_shape, fixed when the layer was built), found ", shape_str(input));
  return input;
}

std::string LayerNorm::describe() const {
  std::ostringstream out;
  out << "layernorm(" << shape_str(options_.normalized_shape) << ", eps=" << options_.eps
      << ", elementwise_affine=" << (options_.elementwise_affine ? "true" : "false") << ")";
  return out.str();
}

CNNLAB_REGISTER_LAYER(LayerInfo{
    "layernorm",
    "layer normalization: each sample over all its values (C, H, W)",
    {{"eps", default_text(LayerNormOptions().eps), "added to the variance before the square root"},
     {"elementwise_affine", default_text(LayerNormOptions().elementwise_affine),
      "learnable weight (init 1) and bias (init 0) of the per-sample shape [C, H, W]"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      const Shape& in = context.input_shape;
      CNN_CHECK(in.size() >= 2, "layernorm: expected an input [N, ...], found ", shape_str(in));
      LayerNormOptions options;
      options.normalized_shape.assign(in.begin() + 1, in.end());
      options.eps = args.get_float("eps");
      options.elementwise_affine = args.get_bool("elementwise_affine");
      return std::make_shared<LayerNorm>(options);
    },
    true});

}  // namespace cnn
