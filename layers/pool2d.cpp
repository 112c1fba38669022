// Max, average and global average pooling: the geometry checks, the differentiable
// functions (their kernels, forward and backward, in core/pool_kernels) and the modules.
#include "layers/pool2d.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/autograd.h"
#include "core/pool_kernels.h"
#include "layers/registry.h"

namespace cnn {

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                         bool ceil_mode) {
  const int64_t span = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
  if (span < 0) return 0;
  int64_t out = span / stride + 1;
  // PyTorch: "ensure that the last pooling starts inside the image".
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

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

std::string describe_pool(const char* type, const Pool2dOptions& o, bool average) {
  std::ostringstream out;
  out << type << "(kernel_size=" << pair_str(o.kernel_size) << ", stride=" << pair_str(o.stride)
      << ", padding=" << pair_str(o.padding) << ", ceil_mode=" << (o.ceil_mode ? "true" : "false");
  if (average) out << ", count_include_pad=" << (o.count_include_pad ? "true" : "false");
  out << ")";
  return out.str();
}

PoolGeometry checked_pool_geometry(const Shape& input, const Pool2dOptions& o,
                                   const std::string& layer) {
  CNN_CHECK(input.size() == 4, layer, ": expected a 4-d input [N, C, H, W], got ",
            shape_str(input));
  CNN_CHECK(o.kernel_size.first > 0 && o.kernel_size.second > 0 && o.stride.first > 0 &&
                o.stride.second > 0,
            layer, ": kernel_size and stride must be positive");
  // PyTorch: "pad should be at most half of effective kernel size".
  CNN_CHECK(o.padding.first >= 0 && o.padding.second >= 0 &&
                o.padding.first <= o.kernel_size.first / 2 &&
                o.padding.second <= o.kernel_size.second / 2,
            layer, ": padding must be between 0 and half the kernel size");
  PoolGeometry g{input[0] * input[1], input[2], input[3], 0, 0};
  g.OH = pool_output_size(g.H, o.kernel_size.first, o.stride.first, o.padding.first, o.ceil_mode);
  g.OW = pool_output_size(g.W, o.kernel_size.second, o.stride.second, o.padding.second,
                          o.ceil_mode);
  CNN_CHECK(g.OH >= 1 && g.OW >= 1, layer, ": the input ", shape_str(input),
            " is too small for the window (output would be ", g.OH, "x", g.OW, ")");
  return g;
}

PoolWindows windows_of(const Pool2dOptions& o) {
  return {o.kernel_size, o.stride, o.padding, o.count_include_pad};
}

Pool2dOptions pool_options(const LayerArgs& args, bool average) {
  Pool2dOptions o;
  o.kernel_size = args.get_pair("kernel_size");
  // PyTorch: stride defaults to kernel_size.
  o.stride = args.has("stride") ? args.get_pair("stride") : o.kernel_size;
  o.padding = args.get_pair("padding");
  o.ceil_mode = args.get_bool("ceil_mode");
  if (average) o.count_include_pad = args.get_bool("count_include_pad");
  return o;
}

}  // namespace

// ---- max pooling -----------------------------------------------------------------------

// x [N,C,H,W] -> y [N,C,OH,OW], remembering each window's first maximum (padding is -inf).
Tensor max_pool2d(const Tensor& input, const Pool2dOptions& o) {
  const PoolGeometry g = checked_pool_geometry(input.shape(), o, describe_pool("maxpool2d", o, false));
  const PoolWindows p = windows_of(o);
  Tensor x = input.contiguous();
  Tensor out = Tensor::empty({input.size(0), input.size(1), g.OH, g.OW});
  if (is_plain_2x2(p, g) && !needs_grad({input})) {  // evaluation: no indices to keep
    max_pool_2x2<false>(x.data(), g, out.data(), nullptr);
    return out;
  }
  Tensor argmax = Tensor::empty(out.shape(), DType::Int64);  // index within the input plane
  if (is_plain_2x2(p, g))
    max_pool_2x2<true>(x.data(), g, out.data(), argmax.data_i64());
  else
    max_pool_forward(x.data(), p, g, out.data(), argmax.data_i64());
  // Backward: each output gradient goes to its window's maximum.
  const Shape input_shape = x.shape();
  return record_op("maxpool2d", out, {input}, [argmax, input_shape, g](const Tensor& grad_output) {
    Tensor gy = grad_output.contiguous();
    Tensor dx = Tensor::zeros(input_shape);
    max_pool_backward(gy.data(), argmax.data_i64(), g, dx.data());
    return std::vector<Tensor>{dx};
  });
}

MaxPool2d::MaxPool2d(const Pool2dOptions& options) : options_(options) {}
Tensor MaxPool2d::forward(const Tensor& input) { return max_pool2d(input, options_); }
Shape MaxPool2d::output_shape(const Shape& input) const {
  const PoolGeometry g = checked_pool_geometry(input, options_, describe());
  return {input[0], input[1], g.OH, g.OW};
}
std::string MaxPool2d::describe() const { return describe_pool("maxpool2d", options_, false); }

// ---- average pooling -------------------------------------------------------------------

// x [N,C,H,W] -> y [N,C,OH,OW]
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& o) {
  const PoolGeometry g = checked_pool_geometry(input.shape(), o, describe_pool("avgpool2d", o, true));
  const PoolWindows p = windows_of(o);
  Tensor x = input.contiguous();
  Tensor out = Tensor::empty({input.size(0), input.size(1), g.OH, g.OW});
  avg_pool_forward(x.data(), p, g, out.data());
  const Shape input_shape = x.shape();
  return record_op("avgpool2d", out, {input}, [p, input_shape, g](const Tensor& grad_output) {
    Tensor gy = grad_output.contiguous();
    Tensor dx = Tensor::zeros(input_shape);
    avg_pool_backward(gy.data(), p, g, dx.data());
    return std::vector<Tensor>{dx};
  });
}

AvgPool2d::AvgPool2d(const Pool2dOptions& options) : options_(options) {}
Tensor AvgPool2d::forward(const Tensor& input) { return avg_pool2d(input, options_); }
Shape AvgPool2d::output_shape(const Shape& input) const {
  const PoolGeometry g = checked_pool_geometry(input, options_, describe());
  return {input[0], input[1], g.OH, g.OW};
}
std::string AvgPool2d::describe() const { return describe_pool("avgpool2d", options_, true); }

// ---- global average pooling ------------------------------------------------------------

// x [N,C,H,W] -> y [N,C,1,1]
Tensor global_avg_pool2d(const Tensor& input) {
  CNN_CHECK(input.dim() == 4, "global_avgpool2d: expected a 4-d input [N, C, H, W], got ",
            shape_str(input.shape()));
  Tensor x = input.contiguous();
  const int64_t planes = input.size(0) * input.size(1), area = input.size(2) * input.size(3);
  Tensor out = Tensor::empty({input.size(0), input.size(1), 1, 1});
  global_avg_pool_forward(x.data(), planes, area, out.data());
  const Shape input_shape = x.shape();
  return record_op("global_avgpool2d", out, {input},
                   [input_shape, planes, area](const Tensor& grad_output) {
                     Tensor gy = grad_output.contiguous();
                     Tensor dx = Tensor::empty(input_shape);
                     global_avg_pool_backward(gy.data(), planes, area, dx.data());
                     return std::vector<Tensor>{dx};
                   });
}

Tensor GlobalAvgPool2d::forward(const Tensor& input) { return global_avg_pool2d(input); }
Shape GlobalAvgPool2d::output_shape(const Shape& input) const {
  CNN_CHECK(input.size() == 4, "global_avgpool2d: expected a 4-d input [N, C, H, W], got ",
            shape_str(input));
  return {input[0], input[1], 1, 1};
}

// ---- registration ----------------------------------------------------------------------

namespace {

CNNLAB_REGISTER_LAYER(LayerInfo{
    "maxpool2d",
    "2-D max pooling, as torch.nn.MaxPool2d",
    {{"kernel_size", "required", "int or [h, w]"},
     {"stride", "kernel_size", "int or [h, w]"},
     {"padding", default_text(Pool2dOptions().padding),
      "implicit -inf padding, at most half the kernel"},
     {"ceil_mode", default_text(Pool2dOptions().ceil_mode),
      "round the output size up (the last window must start inside)"}},
    [](const LayerArgs& args, BuildContext&) -> ModulePtr {
      return std::make_shared<MaxPool2d>(pool_options(args, false));
    }});

CNNLAB_REGISTER_LAYER(LayerInfo{
    "avgpool2d",
    "2-D average pooling, as torch.nn.AvgPool2d",
    {{"kernel_size", "required", "int or [h, w]"},
     {"stride", "kernel_size", "int or [h, w]"},
     {"padding", default_text(Pool2dOptions().padding),
      "implicit zero padding, at most half the kernel"},
     {"ceil_mode", default_text(Pool2dOptions().ceil_mode),
      "round the output size up (the last window must start inside)"},
     {"count_include_pad", default_text(Pool2dOptions().count_include_pad),
      "count padded zeros in the divisor"}},
    [](const LayerArgs& args, BuildContext&) -> ModulePtr {
      return std::make_shared<AvgPool2d>(pool_options(args, true));
    }});

CNNLAB_REGISTER_LAYER(LayerInfo{
    "global_avgpool2d",
    "mean over H and W: [N, C, H, W] -> [N, C, 1, 1], as AdaptiveAvgPool2d(1)",
    {},
    [](const LayerArgs&, BuildContext&) -> ModulePtr {
      return std::make_shared<GlobalAvgPool2d>();
    }});

}  // namespace

}  // namespace cnn
