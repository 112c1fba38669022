// Max, average and global average pooling, each forward followed by its backward.
// Every loop runs over independent (sample, channel) planes, in parallel.
#include "layers/pool2d.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/autograd.h"
#include "core/parallel.h"
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

struct PoolGeometry {
  int64_t planes, H, W, OH, OW;
};

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

// The window of output (oh, ow), clipped to the input.
struct Window {
  int64_t h0, h1, w0, w1;
};

inline Window window(const Pool2dOptions& o, int64_t oh, int64_t ow, int64_t H, int64_t W) {
  const int64_t h0 = oh * o.stride.first - o.padding.first;
  const int64_t w0 = ow * o.stride.second - o.padding.second;
  return {std::max<int64_t>(h0, 0), std::min(h0 + o.kernel_size.first, H),
          std::max<int64_t>(w0, 0), std::min(w0 + o.kernel_size.second, W)};
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
namespace {

// The common case (2x2 windows, stride 2, no padding, every window inside the input) gets a
// loop without window arithmetic that the compiler vectorizes: about 5x faster than the
// general loop (vgg6's first pool, batch 64, one thread: 6.9 -> 1.2 ms).
bool is_plain_2x2(const Pool2dOptions& o, const PoolGeometry& g) {
  return o.kernel_size == std::pair<int64_t, int64_t>{2, 2} &&
         o.stride == std::pair<int64_t, int64_t>{2, 2} &&
         o.padding == std::pair<int64_t, int64_t>{0, 0} && 2 * g.OH <= g.H && 2 * g.OW <= g.W;
}

// Same result as the general loop: the first maximum in row-major order, NaN propagates.
// Without kArgmax (nothing will need the gradient) the indices are not written at all.
template <bool kArgmax>
void max_pool_2x2(const float* x, const PoolGeometry& g, float* y, int64_t* argmax) {
#pragma omp parallel for schedule(static) if (g.planes * g.OH * g.OW > kParallelMinPoolOutputs)
  for (int64_t plane = 0; plane < g.planes; ++plane)
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const float* top = x + (plane * g.H + 2 * oh) * g.W;
      const float* bottom = top + g.W;
      const int64_t k0 = (plane * g.OH + oh) * g.OW, row0 = 2 * oh * g.W;
      const int64_t OW = g.OW, W = g.W;  // locals: the stores below cannot change them
      for (int64_t ow = 0; ow < OW; ++ow) {
        // Branch-free, so that the loop vectorizes: `|` not `||`, selects not ifs.
        float best = top[2 * ow];
        int64_t offset = 0;
        const float right = top[2 * ow + 1], below = bottom[2 * ow],
                    diagonal = bottom[2 * ow + 1];
        bool take = (right > best) | (right != right);  // x != x: NaN, as std::isnan
        best = take ? right : best;
        offset = take ? 1 : offset;
        take = (below > best) | (below != below);
        best = take ? below : best;
        offset = take ? W : offset;
        take = (diagonal > best) | (diagonal != diagonal);
        best = take ? diagonal : best;
        offset = take ? W + 1 : offset;
        y[k0 + ow] = best;
        if constexpr (kArgmax) argmax[k0 + ow] = row0 + 2 * ow + offset;
      }
    }
}

}  // namespace

Tensor max_pool2d(const Tensor& input, const Pool2dOptions& o) {
  const PoolGeometry g = checked_pool_geometry(input.shape(), o, describe_pool("maxpool2d", o, false));
  Tensor x = input.contiguous();
  Tensor out = Tensor::empty({input.size(0), input.size(1), g.OH, g.OW});
  const float* px = x.data();
  float* py = out.data();
  if (is_plain_2x2(o, g) && !needs_grad({input})) {  // evaluation: no indices to keep
    max_pool_2x2<false>(px, g, py, nullptr);
    return out;
  }
  Tensor argmax = Tensor::empty(out.shape(), DType::Int64);  // index within the input plane
  int64_t* pi = argmax.data_i64();
  if (is_plain_2x2(o, g)) {
    max_pool_2x2<true>(px, g, py, pi);
  } else {
#pragma omp parallel for schedule(static) if (g.planes * g.OH * g.OW > kParallelMinPoolOutputs)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* src = px + plane * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Window win = window(o, oh, ow, g.H, g.W);
        float best = -std::numeric_limits<float>::infinity();
        int64_t best_index = win.h0 * g.W + win.w0;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const float v = src[h * g.W + w];
            if (v > best || std::isnan(v)) {  // NaN propagates, as in PyTorch
              best = v;
              best_index = h * g.W + w;
            }
          }
        const int64_t k = (plane * g.OH + oh) * g.OW + ow;
        py[k] = best;
        pi[k] = best_index;
      }
  }
  }
  // Backward: each output gradient goes to its window's maximum.
  const Shape input_shape = x.shape();
  return record_op("maxpool2d", out, {input}, [argmax, input_shape, g](const Tensor& grad_output) {
    Tensor gy = grad_output.contiguous();
    Tensor dx = Tensor::zeros(input_shape);
    const float* pg = gy.data();
    const int64_t* pi = argmax.data_i64();
    float* pd = dx.data();
    const int64_t out_plane = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (g.planes * out_plane > kParallelMinPoolOutputs)
    for (int64_t plane = 0; plane < g.planes; ++plane) {
      float* dst = pd + plane * g.H * g.W;
      for (int64_t k = plane * out_plane; k < (plane + 1) * out_plane; ++k) dst[pi[k]] += pg[k];
    }
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

namespace {
// PyTorch's divisor: the window clipped to the padded input (count_include_pad) or to the
// input itself.
inline float window_divisor(const Pool2dOptions& o, int64_t oh, int64_t ow, int64_t H,
                            int64_t W) {
  if (!o.count_include_pad) {
    const Window win = window(o, oh, ow, H, W);
    return static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
  }
  const int64_t h0 = oh * o.stride.first - o.padding.first;
  const int64_t w0 = ow * o.stride.second - o.padding.second;
  const int64_t h1 = std::min(h0 + o.kernel_size.first, H + o.padding.first);
  const int64_t w1 = std::min(w0 + o.kernel_size.second, W + o.padding.second);
  return static_cast<float>((h1 - h0) * (w1 - w0));
}
}  // namespace

// x [N,C,H,W] -> y [N,C,OH,OW]
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& o) {
  const PoolGeometry g = checked_pool_geometry(input.shape(), o, describe_pool("avgpool2d", o, true));
  Tensor x = input.contiguous();
  Tensor out = Tensor::empty({input.size(0), input.size(1), g.OH, g.OW});
  const float* px = x.data();
  float* py = out.data();
#pragma omp parallel for schedule(static) if (g.planes * g.OH * g.OW > kParallelMinPoolOutputs)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* src = px + plane * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Window win = window(o, oh, ow, g.H, g.W);
        float total = 0.0f;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) total += src[h * g.W + w];
        py[(plane * g.OH + oh) * g.OW + ow] = total / window_divisor(o, oh, ow, g.H, g.W);
      }
  }
  // Backward: each output gradient, divided like the forward, spreads over its window.
  const Shape input_shape = x.shape();
  return record_op("avgpool2d", out, {input}, [o, input_shape, g](const Tensor& grad_output) {
    Tensor gy = grad_output.contiguous();
    Tensor dx = Tensor::zeros(input_shape);
    const float* pg = gy.data();
    float* pd = dx.data();
#pragma omp parallel for schedule(static) if (g.planes * g.OH * g.OW > kParallelMinPoolOutputs)
    for (int64_t plane = 0; plane < g.planes; ++plane) {
      float* dst = pd + plane * g.H * g.W;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Window win = window(o, oh, ow, g.H, g.W);
          const float share = pg[(plane * g.OH + oh) * g.OW + ow] /
                              window_divisor(o, oh, ow, g.H, g.W);
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) dst[h * g.W + w] += share;
        }
    }
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
  const float* px = x.data();
  float* py = out.data();
#pragma omp parallel for schedule(static) if (planes * area > kParallelMinPlaneElements)
  for (int64_t plane = 0; plane < planes; ++plane) {
    float total = 0.0f;
    for (int64_t i = 0; i < area; ++i) total += px[plane * area + i];
    py[plane] = total / static_cast<float>(area);
  }
  // Backward: dx = dy / (H*W) at every position of the plane.
  const Shape input_shape = x.shape();
  return record_op("global_avgpool2d", out, {input},
                   [input_shape, planes, area](const Tensor& grad_output) {
                     Tensor gy = grad_output.contiguous();
                     Tensor dx = Tensor::empty(input_shape);
                     const float* pg = gy.data();
                     float* pd = dx.data();
#pragma omp parallel for schedule(static) if (planes * area > kParallelMinPlaneElements)
                     for (int64_t plane = 0; plane < planes; ++plane)
                       std::fill_n(pd + plane * area, area,
                                   pg[plane] / static_cast<float>(area));
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
