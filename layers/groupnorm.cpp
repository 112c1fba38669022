// The differentiable group_norm shared by GroupNorm, LayerNorm and InstanceNorm (its
// kernels are in core/group_norm_kernels), and the GroupNorm module.
// Shapes: the input [N,C,...] is viewed as [N,G,D], D = (C/G)*L, L = product of dims after C;
// within a group, element e = j*L + l is channel g*(C/G) + j at position l.
#include "layers/groupnorm.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "layers/registry.h"

namespace cnn {

int64_t effective_num_groups(int64_t channels, int64_t requested) {
  for (int64_t g = std::min(requested, channels); g > 1; --g)
    if (channels % g == 0) return g;
  return 1;
}

Tensor group_norm(const Tensor& input, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps, AffineLayout layout, const std::string& who, GroupStatistics* stats) {
  CNN_CHECK(input.defined() && input.dtype() == DType::Float32, who, ": expected a float32 input");
  CNN_CHECK(input.dim() >= 2, who, ": expected an input [N, C, ...], found ",
            shape_str(input.shape()));
  NGD s;
  s.n = input.size(0);
  s.c = input.size(1);
  for (int64_t d = 2; d < input.dim(); ++d) s.l *= input.size(d);
  s.g = groups;
  CNN_CHECK(groups >= 1 && s.c % groups == 0, who, ": ", groups, " groups do not divide the ", s.c,
            " channels of input ", shape_str(input.shape()));
  const int64_t affine_size = layout == AffineLayout::PerChannel ? s.c : s.c * s.l;
  for (const Tensor* t : {&weight, &bias})
    CNN_CHECK(!t->defined() || t->numel() == affine_size, who, ": the affine ",
              t == &weight ? "weight" : "bias", " ", shape_str(t->shape()), " does not fit input ",
              shape_str(input.shape()));

  Tensor x = input.contiguous().detach();
  Tensor w = weight.defined() ? weight.contiguous().detach() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous().detach() : Tensor();
  Affine gamma{w.defined() ? w.data() : nullptr, layout};
  Affine beta{b.defined() ? b.data() : nullptr, layout};
  Tensor y = Tensor::empty(input.shape());
  std::vector<float> shift(s.n * s.g), centre(s.n * s.g), invstd(s.n * s.g);
  if (stats) {
    stats->mean.assign(s.n * s.g, 0.0);
    stats->var.assign(s.n * s.g, 0.0);
  }
  group_norm_forward(x.data(), s, gamma, beta, eps, y.data(), shift.data(), centre.data(),
                     invstd.data(), stats);
  const bool x_grad = input.requires_grad(), w_grad = weight.defined() && weight.requires_grad(),
             b_grad = bias.defined() && bias.requires_grad();
  // The weight is saved as a detached view: the backward reads the values the forward used
  // (optimizers update parameters only after backward).
  return record_op(
      "group_norm", y, {input, weight, bias},
      [x, w, s, layout, shift, centre, invstd, x_grad, w_grad, b_grad, affine_size,
       weight_shape = weight.defined() ? weight.shape() : Shape{},
       bias_shape = bias.defined() ? bias.shape() : Shape{}](const Tensor& grad_output) {
        Tensor dy = grad_output.contiguous();
        Tensor dx = x_grad ? Tensor::empty(x.shape()) : Tensor();
        Tensor dgamma = w_grad ? Tensor::empty({affine_size}) : Tensor();
        Tensor dbeta = b_grad ? Tensor::empty({affine_size}) : Tensor();
        Affine gamma{w.defined() ? w.data() : nullptr, layout};
        group_norm_backward(x.data(), dy.data(), s, gamma, shift.data(), centre.data(),
                            invstd.data(), x_grad ? dx.data() : nullptr,
                            w_grad ? dgamma.data() : nullptr, b_grad ? dbeta.data() : nullptr);
        // Gradients take the parameters' own shapes ([C] or LayerNorm's [C,H,W]).
        return std::vector<Tensor>{dx, w_grad ? dgamma.view(weight_shape) : Tensor(),
                                   b_grad ? dbeta.view(bias_shape) : Tensor()};
      });
}

// ---- the module -------------------------------------------------------------------------

GroupNorm::GroupNorm(const GroupNormOptions& options) : options_(options) {
  CNN_CHECK(options.num_channels > 0, "groupnorm: num_channels must be positive, found ",
            options.num_channels);
  CNN_CHECK(options.num_groups > 0, "groupnorm: num_groups must be positive, found ",
            options.num_groups);
  CNN_CHECK(options.eps > 0.0f, "groupnorm: eps must be positive, found ", options.eps);
  groups_ = effective_num_groups(options.num_channels, options.num_groups);
  if (options.affine) {
    weight_ = Tensor::ones({options.num_channels});
    bias_ = Tensor::zeros({options.num_channels});
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Tensor GroupNorm::forward(const Tensor& input) {
  output_shape(input.shape());
  return group_norm(input, groups_, weight_, bias_, options_.eps, AffineLayout::PerChannel, type());
}

Shape GroupNorm::output_shape(const Shape& input) const {
  CNN_CHECK(input.size() >= 2 && input[1] == options_.num_channels,
            "groupnorm: expected an "
            "input with ",
            options_.num_channels, " channels in dimension 1 ([N, ", options_.num_channels,
            ", ...]), found ", shape_str(input));
  return input;
}

std::string GroupNorm::describe() const {
  std::ostringstream out;
  out << "groupnorm(" << groups_ << " groups of " << options_.num_channels / groups_ << " channels";
  if (groups_ != options_.num_groups)
    out << ", num_groups " << options_.num_groups << " lowered to the largest divisor of "
        << options_.num_channels;
  out << ", eps=" << options_.eps << ", affine=" << (options_.affine ? "true" : "false") << ")";
  return out.str();
}

GroupNormOptions groupnorm_options(const LayerArgs& args, int64_t num_channels) {
  GroupNormOptions options;
  options.num_channels = num_channels;
  options.num_groups = args.get_int("num_groups");
  CNN_CHECK(options.num_groups > 0, args.key_path("num_groups"),
            ": expected a positive number of groups, found ", options.num_groups);
  options.eps = args.get_float("eps");
  options.affine = args.get_bool("affine");
  return options;
}

CNNLAB_REGISTER_LAYER(LayerInfo{
    "groupnorm",
    "group normalization: per sample, over groups of channels (and positions)",
    {{"num_groups", default_text(GroupNormOptions().num_groups),
      "groups of consecutive channels; lowered to the largest divisor of C that is <= it"},
     {"eps", default_text(GroupNormOptions().eps), "added to the variance before the square root"},
     {"affine", default_text(GroupNormOptions().affine),
      "learnable per-channel weight (init 1) and bias (init 0)"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      CNN_CHECK(context.input_shape.size() >= 2,
                "groupnorm: expected an input [N, C, ...], "
                "found ",
                shape_str(context.input_shape));
      return std::make_shared<GroupNorm>(groupnorm_options(args, context.input_shape[1]));
    },
    true});

}  // namespace cnn
