// Conv2d: the layer, the differentiable conv2d function and its evaluation-only fusions.
// Each call picks a kernel (core/): Winograd F(4x4,3x3) for 3x3 stride-1 layers, the direct
// kernel for few input channels or a stride (forward), im2col + sgemm for the rest and for
// the backward of every layer Winograd does not take; in bf16, oneDNN's convolution.
#include "layers/conv2d.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/conv_direct.h"
#include "core/conv_gradients.h"
#include "core/conv_im2col.h"
#include "core/conv_onednn.h"
#include "core/im2col.h"
#include "core/ops.h"
#include "core/precision.h"
#include "core/winograd.h"
#include "layers/registry.h"

namespace cnn {

namespace {

std::string pair_str(std::pair<int64_t, int64_t> p) {
  std::ostringstream out;
  if (p.first == p.second) {
    out << p.first;
  } else {
    out << "[" << p.first << ", " << p.second << "]";
  }
  return out.str();
}

std::string describe_options(const Conv2dOptions& o) {
  std::ostringstream out;
  out << "conv2d(" << o.in_channels << "->" << o.out_channels
      << ", kernel_size=" << pair_str(o.kernel_size) << ", stride=" << pair_str(o.stride)
      << ", padding=" << pair_str(o.padding);
  if (o.dilation != std::pair<int64_t, int64_t>{1, 1}) out << ", dilation=" << pair_str(o.dilation);
  if (o.groups != 1) out << ", groups=" << o.groups;
  out << ", bias=" << (o.bias ? "true" : "false") << ")";
  return out.str();
}

void check_options(const Conv2dOptions& o) {
  const std::string layer = describe_options(o);
  CNN_CHECK(o.in_channels > 0 && o.out_channels > 0, layer,
            ": in_channels and out_channels must be positive");
  CNN_CHECK(o.kernel_size.first > 0 && o.kernel_size.second > 0, layer,
            ": kernel_size must be positive, got ", pair_str(o.kernel_size));
  CNN_CHECK(o.stride.first > 0 && o.stride.second > 0, layer, ": stride must be positive, got ",
            pair_str(o.stride));
  CNN_CHECK(o.padding.first >= 0 && o.padding.second >= 0, layer,
            ": padding must be non-negative, got ", pair_str(o.padding));
  CNN_CHECK(o.dilation.first > 0 && o.dilation.second > 0, layer,
            ": dilation must be positive, got ", pair_str(o.dilation));
  CNN_CHECK(o.groups > 0 && o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
            layer, ": groups=", o.groups, " must divide both in_channels (", o.in_channels,
            ") and out_channels (", o.out_channels, ")");
}

// The geometry of one input image; throws a sentence naming the layer and the shapes.
ConvGeometry checked_geometry(const Shape& input, const Conv2dOptions& o) {
  const std::string layer = describe_options(o);
  CNN_CHECK(input.size() == 4, layer, ": expected a 4-d input [N, C, H, W], got ",
            shape_str(input));
  CNN_CHECK(input[1] == o.in_channels, layer, ": expected ", o.in_channels,
            " input channels, got input ", shape_str(input));
  // Sizes from a config can be anything up to int64's limit: overflow is an error too.
  int64_t extent_h = 0, extent_w = 0, padded_h = 0, padded_w = 0;
  const bool overflow =
      __builtin_mul_overflow(o.dilation.first, o.kernel_size.first - 1, &extent_h) ||
      __builtin_add_overflow(extent_h, 1, &extent_h) ||
      __builtin_mul_overflow(o.dilation.second, o.kernel_size.second - 1, &extent_w) ||
      __builtin_add_overflow(extent_w, 1, &extent_w) ||
      __builtin_mul_overflow(o.padding.first, 2, &padded_h) ||
      __builtin_add_overflow(padded_h, input[2], &padded_h) ||
      __builtin_mul_overflow(o.padding.second, 2, &padded_w) ||
      __builtin_add_overflow(padded_w, input[3], &padded_w);
  CNN_CHECK(!overflow, layer, ": kernel_size, dilation or padding too large for input ",
            shape_str(input), " (the sizes overflow int64)");
  CNN_CHECK(extent_h <= padded_h && extent_w <= padded_w, layer, ": the kernel (extent ",
            extent_h, "x", extent_w, " with dilation) is larger than the padded input ",
            padded_h, "x", padded_w, " of input ", shape_str(input));
  return make_conv_geometry(o.in_channels, input[2], input[3], o.kernel_size.first,
                            o.kernel_size.second, o.stride.first, o.stride.second,
                            o.padding.first, o.padding.second, o.dilation.first,
                            o.dilation.second);
}

// The shape oneDNN's primitives are made for (bias: whether the forward adds one), in the
// precision of the process.
OnednnConvShape onednn_shape(const ConvGeometry& g, int64_t batch, int64_t out_channels,
                             int64_t groups, bool bias = false) {
  OnednnConvShape shape;
  shape.geometry = g;
  shape.batch = batch;
  shape.out_channels = out_channels;
  shape.groups = groups;
  shape.bf16 = compute_precision() == Precision::bf16;
  shape.bias = bias;
  return shape;
}

// fp32 auto never takes oneDNN. Its fp32 convolution (jit:avx512_core) beat cnnlab's paths
// only on ResNet-20's two 3x3 stride-2 convs (bench/conv_onednn.cpp, AMD Zen 4, 1 thread,
// batch 128, forward + backward ms, two runs: 16->32 @32x32 21.2 and 20.9 against direct +
// im2col's 33.9 and 26.7; 32->64 @16x16 21.7 and 22.4 against 25.8 and 25.3), about 2% of
// ResNet-20's conv time, and its weight gradient sums N*OH*OW terms in fp32 where im2col's
// sums bands in double (docs/numerics.md): routed there, tests/layers/test_conv2d.cpp's
// "bands, strided" weight gradient was off by 1e-4 relative, past the bound im2col meets.
// Everywhere else Winograd, direct or im2col were as fast or faster.
// How a layer's forward runs (auto): Winograd for the 3x3 stride-1 layers it suits, the
// direct kernel for few input channels or a stride, else im2col + sgemm (the backward is
// Winograd's or im2col's). A forced algorithm runs where its kernel can, im2col elsewhere.
// In bf16 (core/precision.h) every layer runs oneDNN's bf16 convolution where oneDNN has a
// kernel for it that is not its reference loop, else (and when im2col is forced) im2col
// through the bf16 GEMMs:
// Winograd's transforms in bf16 would lose too much (docs/precision.md) and the direct
// kernel is fp32 only. oneDNN's bf16 convolutions ran vgg6's and ResNet-20's layers
// 1.5-3x faster than bf16 im2col (bench/conv_onednn.cpp, docs/precision.md).
ConvAlgorithm choose_algorithm(const ConvGeometry& g, int64_t batch, int64_t groups,
                               int64_t out_channels, ConvAlgorithm requested) {
  const bool bf16 = compute_precision() == Precision::bf16;
  if (bf16 && requested == ConvAlgorithm::kIm2col) return ConvAlgorithm::kIm2col;
  if (bf16 || requested == ConvAlgorithm::kOnednn)
    return onednn_conv_runs_fast(onednn_shape(g, batch, out_channels, groups))
               ? ConvAlgorithm::kOnednn
               : ConvAlgorithm::kIm2col;
  const bool winograd_fits = winograd_supports(g, groups);
  switch (requested) {
    case ConvAlgorithm::kWinograd:
      return winograd_fits ? ConvAlgorithm::kWinograd : ConvAlgorithm::kIm2col;
    case ConvAlgorithm::kDirect:
      return groups == 1 ? ConvAlgorithm::kDirect : ConvAlgorithm::kIm2col;
    case ConvAlgorithm::kIm2col:
    case ConvAlgorithm::kOnednn:  // taken above
      return ConvAlgorithm::kIm2col;
    case ConvAlgorithm::kAuto:
      break;
  }
  if (winograd_applies(g, groups)) return ConvAlgorithm::kWinograd;
  if (direct_conv_applies(g, groups, out_channels)) return ConvAlgorithm::kDirect;
  return ConvAlgorithm::kIm2col;
}
bool use_winograd(const ConvGeometry& g, int64_t batch, const Conv2dOptions& options) {
  return choose_algorithm(g, batch, options.groups, options.out_channels, options.algorithm) ==
         ConvAlgorithm::kWinograd;
}

// The gradient through a fused ReLU: gy where the output is positive, 0 elsewhere.
Tensor relu_masked(const Tensor& gy, const Tensor& relu_out) {
  Tensor masked = Tensor::empty(gy.shape());
  relu_mask_gradient(gy.data(), relu_out.data(), gy.numel(), masked.data());
  return masked;
}

// Winograd's transformed kernels [36, C, O] of w (contiguous), in a tensor that is written,
// never zero-filled first.
Tensor winograd_kernels(int64_t in_channels, int64_t out_channels, const Tensor& w) {
  Tensor u = Tensor::empty({winograd_weights_size(in_channels, out_channels)});
  winograd_transform_weights(in_channels, out_channels, w.data(), u.data());
  return u;
}

// The weight [O, C/groups, kh, kw] and the bias [O] (or none) the options call for.
void check_parameters(const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  const int64_t O = options.out_channels;
  const Shape weight_shape{O, options.in_channels / options.groups, options.kernel_size.first,
                           options.kernel_size.second};
  CNN_CHECK(weight.shape() == weight_shape, describe_options(options), ": weight has shape ",
            shape_str(weight.shape()), ", expected ", shape_str(weight_shape));
  CNN_CHECK(!bias.defined() || bias.shape() == Shape{O}, describe_options(options),
            ": bias has shape ", shape_str(bias.defined() ? bias.shape() : Shape{}),
            ", expected [", O, "]");
}

}  // namespace

const std::vector<std::string>& conv_algorithm_names() {
  static const std::vector<std::string> names = {"auto", "winograd", "direct", "im2col",
                                                 "onednn"};
  return names;
}

ConvAlgorithm conv_algorithm_from_name(const std::string& name, const std::string& key_path) {
  if (name == "auto") return ConvAlgorithm::kAuto;
  if (name == "winograd") return ConvAlgorithm::kWinograd;
  if (name == "direct") return ConvAlgorithm::kDirect;
  if (name == "im2col") return ConvAlgorithm::kIm2col;
  if (name == "onednn") return ConvAlgorithm::kOnednn;
  CNN_FAIL(key_path, ": expected auto, winograd, direct, im2col or onednn, found '", name, "'");
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options, bool then_relu) {
  const ConvGeometry g = checked_geometry(input.shape(), options);
  check_parameters(weight, bias, options);
  const int64_t N = input.size(0), O = options.out_channels, groups = options.groups;
  Tensor x = input.contiguous(), w = weight.contiguous();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty({N, O, g.out_h, g.out_w});
  const ConvAlgorithm algorithm = choose_algorithm(g, N, groups, O, options.algorithm);
  const bool winograd = algorithm == ConvAlgorithm::kWinograd;
  const OnednnConvShape onednn = onednn_shape(g, N, O, groups, b.defined());
  const float* bias_data = b.defined() ? b.data() : nullptr;
  // Winograd's transformed kernels, computed once for the forward and the backward.
  const Tensor u = winograd ? winograd_kernels(options.in_channels, O, w) : Tensor();
  const bool need_dx = input.requires_grad(), need_dw = weight.requires_grad();
  const bool need_db = bias.defined() && bias.requires_grad();
  // oneDNN's copy of x for dW (bf16, blocked): then x itself need not be kept.
  std::shared_ptr<const OnednnConvInput> kept_x;
  if (winograd) {
    winograd_conv3x3_forward(g, N, O, x.data(), u.data(), bias_data, {then_relu, false},
                             out.data());
  } else if (algorithm == ConvAlgorithm::kDirect) {
    direct_conv_forward(g, N, O, x.data(), w.data(), bias_data, then_relu, out.data());
  } else if (algorithm == ConvAlgorithm::kOnednn) {
    kept_x = onednn_conv_forward(onednn, x.data(), w.data(), bias_data, then_relu, out.data(),
                                 need_dw && grad_mode_enabled());
  } else {
    im2col_conv_forward(g, N, O, groups, x.data(), w.data(), bias_data, then_relu, out.data());
  }

  Tensor saved_x = need_dw && !kept_x ? x.detach() : Tensor();  // only needed for dW
  Tensor saved_w = w.detach();
  const Shape input_shape = x.shape();
  const Tensor relu_out = then_relu ? out.detach() : Tensor();  // its sign masks gy
  return record_op(then_relu ? "conv2d_relu" : "conv2d", out, {input, weight, bias},
                   [=](const Tensor& grad_output) -> std::vector<Tensor> {
                     Tensor gy = grad_output.contiguous();
                     if (relu_out.defined()) gy = relu_masked(gy, relu_out);
                     Tensor dx = need_dx ? Tensor::empty(input_shape) : Tensor();
                     Tensor dw = need_dw ? Tensor::empty(saved_w.shape()) : Tensor();
                     Tensor db = need_db ? Tensor::empty({O}) : Tensor();
                     if (need_db) conv_bias_gradient(gy.data(), N, O, g.out_h * g.out_w, db.data());
                     const float* x_data = saved_x.defined() ? saved_x.data() : nullptr;
                     float* dx_data = need_dx ? dx.data() : nullptr;
                     float* dw_data = need_dw ? dw.data() : nullptr;
                     if (winograd) {  // Winograd's forward: its adjoint
                       winograd_conv3x3_backward(g, N, O, x_data, u.data(), gy.data(), dx_data,
                                                 dw_data);
                     } else if (algorithm == ConvAlgorithm::kOnednn) {
                       onednn_conv_backward(onednn, x_data, gy.data(), saved_w.data(), dx_data,
                                            dw_data, kept_x.get());
                     } else {
                       im2col_conv_backward(g, N, O, groups, x_data, gy.data(), saved_w.data(),
                                            dx_data, dw_data);
                     }
                     return {dx, dw, db};
                   });
}

namespace {

// Evaluation only (no tape): the Winograd forward with an epilogue, into a new tensor of
// out_shape.
Tensor winograd_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Conv2dOptions& options, const ConvGeometry& g,
                        WinogradEpilogue epilogue, const Shape& out_shape) {
  check_parameters(weight, bias, options);
  Tensor x = input.contiguous(), w = weight.contiguous();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty(out_shape);
  const Tensor u = winograd_kernels(options.in_channels, options.out_channels, w);
  winograd_conv3x3_forward(g, input.size(0), options.out_channels, x.data(), u.data(),
                           b.defined() ? b.data() : nullptr, epilogue, out.data());
  return out;
}

}  // namespace

Tensor conv2d_relu_max_pool2x2(const Tensor& input, const Tensor& weight, const Tensor& bias,
                               const Conv2dOptions& options) {
  const ConvGeometry g = checked_geometry(input.shape(), options);
  if (needs_grad({input, weight, bias}) || !use_winograd(g, input.size(0), options) ||
      g.out_h % 2 != 0 ||
      g.out_w % 2 != 0)
    return Tensor();
  return winograd_forward(input, weight, bias, options, g, {true, true, nullptr},
                          {input.size(0), options.out_channels, g.out_h / 2, g.out_w / 2});
}

Tensor conv2d_add_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                       const Conv2dOptions& options, const Tensor& residual) {
  const ConvGeometry g = checked_geometry(input.shape(), options);
  const Shape out_shape{input.size(0), options.out_channels, g.out_h, g.out_w};
  if (needs_grad({input, weight, bias, residual}) || !use_winograd(g, input.size(0), options) ||
      residual.shape() != out_shape)
    return Tensor();
  const Tensor skip = residual.contiguous();
  return winograd_forward(input, weight, bias, options, g, {false, false, skip.data()},
                          out_shape);
}

bool conv2d_runs_winograd(const Shape& input, const Conv2dOptions& options) {
  return input.size() == 4 && input[1] == options.in_channels &&
         use_winograd(checked_geometry(input, options), input[0], options);
}

ConvAlgorithm conv2d_algorithm(const Shape& input, const Conv2dOptions& options) {
  const ConvGeometry g = checked_geometry(input, options);
  return choose_algorithm(g, input[0], options.groups, options.out_channels, options.algorithm);
}

PreparedConv2d::PreparedConv2d(Conv2d& conv, const Shape& input)
    : options_(conv.options()),
      geometry_(checked_geometry(input, options_)),
      weight_(conv.weight().contiguous()),
      bias_(conv.bias().defined() ? conv.bias().contiguous() : Tensor()) {
  CNN_CHECK(!needs_grad({conv.weight(), conv.bias()}), conv.describe(),
            ": PreparedConv2d is for evaluation (inside NoGradGuard)");
  check_parameters(weight_, bias_, options_);
  // One image at a time: oneDNN's primitives are made for a batch of 1.
  algorithm_ = choose_algorithm(geometry_, 1, options_.groups, options_.out_channels,
                                options_.algorithm);
  onednn_ = onednn_shape(geometry_, 1, options_.out_channels, options_.groups, bias_.defined());
  if (algorithm_ == ConvAlgorithm::kWinograd)
    u_ = winograd_kernels(options_.in_channels, options_.out_channels, weight_);
}

Shape PreparedConv2d::image_output_shape() const {
  return {options_.out_channels, geometry_.out_h, geometry_.out_w};
}

bool PreparedConv2d::adds_residual() const {
  return algorithm_ == ConvAlgorithm::kWinograd;
}

void PreparedConv2d::run(const float* x, bool relu, const float* residual, float* y) const {
  const float* b = bias_.defined() ? bias_.data() : nullptr;
  const int64_t O = options_.out_channels;
  switch (algorithm_) {
    case ConvAlgorithm::kWinograd:
      return winograd_conv3x3_forward(geometry_, 1, O, x, u_.data(), b,
                                      {relu && !residual, false, residual}, y);
    case ConvAlgorithm::kDirect:
      CNN_CHECK(!residual, "PreparedConv2d: only a Winograd conv adds a residual");
      return direct_conv_forward(geometry_, 1, O, x, weight_.data(), b, relu, y);
    case ConvAlgorithm::kOnednn:
      CNN_CHECK(!residual, "PreparedConv2d: only a Winograd conv adds a residual");
      onednn_conv_forward(onednn_, x, weight_.data(), b, relu, y);
      return;
    case ConvAlgorithm::kIm2col:
    case ConvAlgorithm::kAuto:  // not after choose_algorithm
      CNN_CHECK(!residual, "PreparedConv2d: only a Winograd conv adds a residual");
      return im2col_conv_forward(geometry_, 1, O, options_.groups, x, weight_.data(), b,
                                 relu, y);
  }
}

Conv2d::Conv2d(const Conv2dOptions& options, Generator& generator) : options_(options) {
  check_options(options_);
  const int64_t O = options_.out_channels;
  weight_ = Tensor::empty({O, options_.in_channels / options_.groups, options_.kernel_size.first,
                           options_.kernel_size.second});
  // torch.nn.Conv2d.reset_parameters: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), ...).
  kaiming_uniform_(weight_, generator, std::sqrt(5.0f));
  if (options_.bias) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in(weight_.shape())));
    bias_ = Tensor::empty({O});
    uniform_(bias_, -bound, bound, generator);
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight_, bias_, options_); }

Tensor Conv2d::forward_relu(const Tensor& input) {
  return conv2d(input, weight_, bias_, options_, true);
}

Tensor Conv2d::forward_relu_max_pool2x2(const Tensor& input) {
  return conv2d_relu_max_pool2x2(input, weight_, bias_, options_);
}

Tensor Conv2d::forward_add_relu(const Tensor& input, const Tensor& residual) {
  return conv2d_add_relu(input, weight_, bias_, options_, residual);
}

Shape Conv2d::output_shape(const Shape& input) const {
  const ConvGeometry g = checked_geometry(input, options_);
  return {input[0], options_.out_channels, g.out_h, g.out_w};
}

std::string Conv2d::describe() const { return describe_options(options_); }

void Conv2d::set_bias(const Tensor& bias) {
  CNN_CHECK(bias.defined() && bias.shape() == Shape{options_.out_channels}, describe(),
            ": set_bias expects a tensor of shape [", options_.out_channels, "], got ",
            bias.defined() ? shape_str(bias.shape()) : std::string("an undefined tensor"));
  bias_ = bias.detach().clone();
  bias_.set_requires_grad(true);
  options_.bias = true;
}

namespace {

ModulePtr make_conv2d(const LayerArgs& args, BuildContext& context) {
  const Shape& in = context.input_shape;
  CNN_CHECK(in.size() == 4, "conv2d: expected a 4-d input [N, C, H, W], got ", shape_str(in));
  Conv2dOptions options;
  options.in_channels = in[1];
  options.out_channels = args.get_int("out_channels");
  options.kernel_size = args.get_pair("kernel_size");
  options.stride = args.get_pair("stride");
  options.padding = args.get_pair("padding");
  options.dilation = args.get_pair("dilation");
  options.groups = args.get_int("groups");
  const std::string bias = args.get_string("bias");
  if (bias == "auto") {
    options.bias = !context.next_is_normalization;
  } else {
    try {
      options.bias = args.get_bool("bias");
    } catch (const Error&) {
      CNN_FAIL(args.key_path("bias"), ": expected auto, true or false, found '", bias, "'");
    }
  }
  options.algorithm = conv_algorithm_from_name(context.conv_algorithm, "model.conv_algorithm");
  CNN_CHECK(context.generator, "conv2d: the build context has no generator");
  auto layer = std::make_shared<Conv2d>(options, *context.generator);
  layer->output_shape(in);  // reject a kernel that does not fit now, with the shapes
  return layer;
}

CNNLAB_REGISTER_LAYER(LayerInfo{
    "conv2d",
    "2-D convolution (Winograd F(4x4,3x3), direct, im2col + sgemm or oneDNN), as torch.nn.Conv2d; in_channels from the input",
    {{"out_channels", "required", "number of output channels"},
     {"kernel_size", "required", "int or [h, w]"},
     {"stride", default_text(Conv2dOptions().stride), "int or [h, w]"},
     {"padding", default_text(Conv2dOptions().padding), "zero padding, int or [h, w]"},
     {"dilation", default_text(Conv2dOptions().dilation), "int or [h, w]"},
     {"groups", default_text(Conv2dOptions().groups),
      "channel groups; groups = in_channels makes it depthwise"},
     {"bias", "auto", "auto (no bias when a normalization layer follows), true or false"}},
    make_conv2d});

}  // namespace

}  // namespace cnn
