// Convolution through oneDNN (see conv_onednn.h); with core/gemm_onednn.cpp and
// core/gemm_bf16_onednn.cpp one of the three files that include oneDNN's headers.
// One set of primitives (forward, forward + relu, backward data, backward weights) per shape
// and thread count, kept per thread, with a per-thread scratchpad and per-thread buffers for
// the converted and reordered operands, as gemm_bf16_onednn.cpp does for its matmuls.
//
// bf16 operands are rounded by oneDNN's f32 -> bf16 reorder, in the same pass that brings
// them to the primitive's format: round to nearest even as core/bf16.h, but VCVTNEPS2BF16
// flushes subnormal inputs to zero where core/bf16.h keeps them. That changes no product:
// the kernels' vdpbf16ps treats subnormal bf16 operands as zero anyway (docs/precision.md).
// Rounding with core/bf16.h first and then reordering bf16 -> bf16 cost one more pass over
// every operand (measured: the reorders were 21% of oneDNN's time in a vgg6 bf16 step).
#include "core/conv_onednn.h"

#include <omp.h>

#include <array>
#include <dnnl.hpp>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/tensor_memory.h"

namespace cnn {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;
using desc = dnnl::memory::desc;

const dnnl::engine& engine() {
  static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

// The plain (cnnlab) descriptors of one shape, in a data type, and the primitives' sizes.
struct Layouts {
  dims src, weights, dst, strides, dilates, pad_l, pad_r;
  tag weights_tag;
};

Layouts layouts_for(const OnednnConvShape& s) {
  const ConvGeometry& g = s.geometry;
  const int64_t O = s.out_channels, G = s.groups, C = g.channels;
  Layouts l;
  l.src = {s.batch, C, g.height, g.width};
  l.dst = {s.batch, O, g.out_h, g.out_w};
  l.weights =
      G == 1 ? dims{O, C, g.kernel_h, g.kernel_w} : dims{G, O / G, C / G, g.kernel_h, g.kernel_w};
  l.weights_tag = G == 1 ? tag::oihw : tag::goihw;
  l.strides = {g.stride_h, g.stride_w};
  l.dilates = {g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts the gaps
  l.pad_l = {g.pad_h, g.pad_w};
  // The right padding that makes oneDNN's output size torch's floor division's.
  const int64_t extent_h = g.dilation_h * (g.kernel_h - 1) + 1;
  const int64_t extent_w = g.dilation_w * (g.kernel_w - 1) + 1;
  l.pad_r = {(g.out_h - 1) * g.stride_h + extent_h - g.height - g.pad_h,
             (g.out_w - 1) * g.stride_w + extent_w - g.width - g.pad_w};
  return l;
}

tag activation_tag(OnednnConvLayout layout) {
  switch (layout) {
    case OnednnConvLayout::nchw:
      return tag::nchw;
    case OnednnConvLayout::nhwc:
      return tag::nhwc;
    case OnednnConvLayout::any:
      break;
  }
  return tag::any;
}

struct Primitives {
  dnnl::convolution_forward::primitive_desc forward_pd, forward_relu_pd;
  dnnl::convolution_backward_data::primitive_desc backward_data_pd;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_pd;
  dnnl::convolution_forward forward, forward_relu;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
};

dnnl::primitive_attr user_scratchpad(bool relu) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

Primitives make_primitives(const OnednnConvShape& s) {
  const Layouts l = layouts_for(s);
  const dt operand = s.bf16 ? dt::bf16 : dt::f32;
  const tag act = activation_tag(s.layout);
  const desc src(l.src, operand, act), dst(l.dst, dt::f32, act);
  const desc diff_dst(l.dst, operand, act), diff_src(l.src, dt::f32, act);
  const desc weights(l.weights, operand, tag::any), diff_weights(l.weights, dt::f32, tag::any);
  const desc bias = s.bias ? desc({s.out_channels}, dt::f32, tag::x) : desc();
  const auto algo = dnnl::algorithm::convolution_direct;
  const auto prop = dnnl::prop_kind::forward_training;
  const dnnl::convolution_forward::desc fd(prop, algo, src, weights, bias, dst, l.strides,
                                           l.dilates, l.pad_l, l.pad_r);
  Primitives p;
  p.forward_pd = {fd, user_scratchpad(false), engine()};
  p.forward_relu_pd = {fd, user_scratchpad(true), engine()};
  const dnnl::convolution_backward_data::desc bdd(algo, diff_src, weights, diff_dst, l.strides,
                                                  l.dilates, l.pad_l, l.pad_r);
  p.backward_data_pd = {bdd, user_scratchpad(false), engine(), p.forward_pd};
  const dnnl::convolution_backward_weights::desc bwd(algo, src, diff_weights, diff_dst, l.strides,
                                                     l.dilates, l.pad_l, l.pad_r);
  p.backward_weights_pd = {bwd, user_scratchpad(false), engine(), p.forward_pd};
  p.forward = dnnl::convolution_forward(p.forward_pd);
  p.forward_relu = dnnl::convolution_forward(p.forward_relu_pd);
  p.backward_data = dnnl::convolution_backward_data(p.backward_data_pd);
  p.backward_weights = dnnl::convolution_backward_weights(p.backward_weights_pd);
  return p;
}

using Key = std::array<int64_t, 19>;

Key key_for(const OnednnConvShape& s) {
  const ConvGeometry& g = s.geometry;
  return {g.channels,
          g.height,
          g.width,
          g.kernel_h,
          g.kernel_w,
          g.stride_h,
          g.stride_w,
          g.pad_h,
          g.pad_w,
          g.dilation_h,
          g.dilation_w,
          s.batch,
          s.out_channels,
          s.groups,
          s.bf16,
          s.bias,
          static_cast<int64_t>(s.layout),
          omp_in_parallel() ? 1 : omp_get_max_threads(),
          0};
}

thread_local std::map<Key, Primitives> primitives;
thread_local std::map<Key, bool> supported;

// The kernels of every shape made so far, in any thread (describe_onednn_conv_kernels).
std::mutex kernels_mutex;
std::map<std::string, std::set<Key>> kernels_used;

void record_kernels(Key key, const Primitives& p) {
  key[17] = 0;  // the same shape for any thread count
  const std::string kernels = std::string(p.forward_pd.impl_info_str()) + " / " +
                              p.backward_data_pd.impl_info_str() + " / " +
                              p.backward_weights_pd.impl_info_str();
  const std::lock_guard<std::mutex> lock(kernels_mutex);
  kernels_used[kernels].insert(key);
}

const Primitives& primitives_for(const OnednnConvShape& s) {
  const Key key = key_for(s);
  auto found = primitives.find(key);
  if (found != primitives.end()) return found->second;
  try {
    const Primitives& made = primitives.emplace(key, make_primitives(s)).first->second;
    record_kernels(key, made);
    return made;
  } catch (const dnnl::error& e) {
    const ConvGeometry& g = s.geometry;
    CNN_FAIL("conv_onednn: oneDNN cannot make a ", s.bf16 ? "bf16" : "fp32", " convolution for ",
             "input [", s.batch, ",", g.channels, ",", g.height, ",", g.width, "], ",
             s.out_channels, " outputs, kernel ", g.kernel_h, "x", g.kernel_w, ", stride ",
             g.stride_h, ", groups ", s.groups, ": ", e.what(), " (status ",
             static_cast<int>(e.status), "); use model.conv_algorithm: im2col");
  }
}

// Per-thread operand buffers, by slot, that only grow: from the tensor allocator, so bench's
// tensor-memory peak counts them. (Taken and given back per call instead, they left the
// tensors' peak 13 MB lower on vgg6 bf16 but glibc's heap 55 MB larger: fragmentation.)
enum Slot { kSrc, kWeights, kDiffDstWeights, kDst, kDiffDst, kScratchpad, kSlots };
struct Block {
  void* data = nullptr;
  size_t bytes = 0;
};
thread_local Block buffers[kSlots];
void* buffer(Slot slot, size_t bytes) {
  Block& block = buffers[slot];
  if (block.bytes < bytes) {
    if (block.data) release_tensor_memory(block.data, block.bytes);
    block = {allocate_tensor_memory(bytes), bytes};
  }
  return block.data;
}

thread_local dnnl::stream stream_for_thread;
dnnl::stream& stream() {
  if (!stream_for_thread) stream_for_thread = dnnl::stream(engine());
  return stream_for_thread;
}

// fp32 data in cnnlab's plain layout, as oneDNN memory.
dnnl::memory plain_operand(const float* data, const dims& shape, tag plain) {
  return dnnl::memory(desc(shape, dt::f32, plain), engine(), const_cast<float*>(data));
}

// An operand in the primitive's format and type `want` (a reorder into `slot`, rounding to
// bf16 where `want` is bf16; none where the descriptors already agree).
dnnl::memory in_format(const dnnl::memory& operand, const desc& want, Slot slot) {
  if (operand.get_desc() == want) return operand;
  dnnl::memory wanted(want, engine(), buffer(slot, want.get_size()));
  dnnl::reorder(operand, wanted).execute(stream(), const_cast<dnnl::memory&>(operand), wanted);
  return wanted;
}

// Both steps, for an operand used once.
dnnl::memory input_memory(const float* data, const dims& shape, tag plain, const desc& want,
                          Slot want_slot) {
  return in_format(plain_operand(data, shape, plain), want, want_slot);
}

// The primitive's fp32 output `have`, in cnnlab's plain layout at `data` (a reorder after
// the primitive ran, unless the layouts agree: then the primitive writes `data` itself).
struct Output {
  dnnl::memory primitive, user;
  void finish() {
    if (primitive.get_data_handle() != user.get_data_handle())
      dnnl::reorder(primitive, user).execute(stream(), primitive, user);
  }
};
Output output_memory(float* data, const dims& shape, tag plain, const desc& have, Slot slot) {
  const dnnl::engine& cpu = engine();
  const desc plain_desc(shape, dt::f32, plain);
  dnnl::memory user(plain_desc, cpu, data);
  if (plain_desc == have) return {user, user};
  return {dnnl::memory(have, cpu, buffer(slot, have.get_size())), user};
}

dnnl::memory scratchpad(const desc& d) {
  return dnnl::memory(d, engine(), buffer(kScratchpad, d.get_size()));
}

void run(const dnnl::primitive& p, std::unordered_map<int, dnnl::memory> args, const char* what) {
  try {
    p.execute(stream(), args);
    stream().wait();
  } catch (const dnnl::error& e) {
    CNN_FAIL("conv_onednn: oneDNN's convolution ", what, " failed: ", e.what());
  }
}

}  // namespace

struct OnednnConvInput {
  desc format;
  size_t bytes;
  void* data;
  explicit OnednnConvInput(const desc& d)
      : format(d), bytes(d.get_size()), data(allocate_tensor_memory(bytes)) {}
  ~OnednnConvInput() { release_tensor_memory(data, bytes); }
  OnednnConvInput(const OnednnConvInput&) = delete;
  OnednnConvInput& operator=(const OnednnConvInput&) = delete;
  dnnl::memory memory() const { return dnnl::memory(format, engine(), data); }
};

const char* onednn_conv_layout_name(OnednnConvLayout layout) {
  switch (layout) {
    case OnednnConvLayout::nchw:
      return "nchw";
    case OnednnConvLayout::nhwc:
      return "nhwc";
    case OnednnConvLayout::any:
      break;
  }
  return "any";
}

bool onednn_conv_supported(const OnednnConvShape& shape) {
  const Key key = key_for(shape);
  auto found = supported.find(key);
  if (found != supported.end()) return found->second;
  bool ok = true;
  try {
    primitives_for(shape);
  } catch (const Error&) {
    ok = false;
  }
  return supported.emplace(key, ok).first->second;
}

bool onednn_conv_runs_fast(const OnednnConvShape& shape) {
  if (!onednn_conv_supported(shape)) return false;
  const Primitives& p = primitives_for(shape);
  for (const std::string impl : {p.forward_pd.impl_info_str(), p.backward_data_pd.impl_info_str(),
                                 p.backward_weights_pd.impl_info_str()})
    if (impl.rfind("ref", 0) == 0) return false;
  return true;
}

bool onednn_bf16_conv_available() {
  static const bool available = [] {
    OnednnConvShape probe;
    probe.geometry = make_conv_geometry(16, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1);
    probe.batch = 2;
    probe.out_channels = 16;
    probe.bf16 = true;
    return onednn_conv_runs_fast(probe);
  }();
  return available;
}

std::shared_ptr<const OnednnConvInput> onednn_conv_forward(const OnednnConvShape& shape,
                                                           const float* x, const float* w,
                                                           const float* b, bool relu, float* y,
                                                           bool keep_input) {
  const Primitives& p = primitives_for(shape);
  const auto& pd = relu ? p.forward_relu_pd : p.forward_pd;
  const Layouts l = layouts_for(shape);
  const dnnl::memory x_plain = plain_operand(x, l.src, tag::nchw);
  std::shared_ptr<OnednnConvInput> kept;
  dnnl::memory src;
  if (keep_input && x_plain.get_desc() != pd.src_desc()) {
    kept = std::make_shared<OnednnConvInput>(pd.src_desc());
    src = kept->memory();
    dnnl::reorder(x_plain, src).execute(stream(), const_cast<dnnl::memory&>(x_plain), src);
  } else {
    src = in_format(x_plain, pd.src_desc(), kSrc);
  }
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src},
      {DNNL_ARG_WEIGHTS, input_memory(w, l.weights, l.weights_tag, pd.weights_desc(), kWeights)},
      {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}};
  if (shape.bias) {
    CNN_CHECK(b, "conv_onednn: the shape has a bias but no bias was given");
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd.bias_desc(), engine(), const_cast<float*>(b)));
  }
  Output out = output_memory(y, l.dst, tag::nchw, pd.dst_desc(), kDst);
  args.emplace(DNNL_ARG_DST, out.primitive);
  run(relu ? p.forward_relu : p.forward, std::move(args), "forward");
  out.finish();
  stream().wait();
  return kept;
}

void onednn_conv_backward(const OnednnConvShape& shape, const float* x, const float* gy,
                          const float* w, float* dx, float* dw, const OnednnConvInput* kept_x) {
  if (!dx && !dw) return;
  const Primitives& p = primitives_for(shape);
  const Layouts l = layouts_for(shape);
  const dnnl::memory gy_plain = plain_operand(gy, l.dst, tag::nchw);
  dnnl::memory gy_data;  // gy as backward data takes it, reused by backward weights
  if (dx) {
    const auto& pd = p.backward_data_pd;
    Output out = output_memory(dx, l.src, tag::nchw, pd.diff_src_desc(), kDst);
    gy_data = in_format(gy_plain, pd.diff_dst_desc(), kDiffDst);
    run(p.backward_data,
        {{DNNL_ARG_DIFF_DST, gy_data},
         {DNNL_ARG_WEIGHTS, input_memory(w, l.weights, l.weights_tag, pd.weights_desc(), kWeights)},
         {DNNL_ARG_DIFF_SRC, out.primitive},
         {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}},
        "backward data");
    out.finish();
  }
  if (dw) {
    const auto& pd = p.backward_weights_pd;
    Output out = output_memory(dw, l.weights, l.weights_tag, pd.diff_weights_desc(), kDst);
    const bool reuse = gy_data && gy_data.get_desc() == pd.diff_dst_desc();
    run(p.backward_weights,
        {{DNNL_ARG_DIFF_DST,
          reuse ? gy_data : in_format(gy_plain, pd.diff_dst_desc(), kDiffDstWeights)},
         {DNNL_ARG_SRC, kept_x ? in_format(kept_x->memory(), pd.src_desc(), kSrc)
                               : input_memory(x, l.src, tag::nchw, pd.src_desc(), kSrc)},
         {DNNL_ARG_DIFF_WEIGHTS, out.primitive},
         {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}},
        "backward weights");
    out.finish();
  }
  stream().wait();
}

std::string describe_onednn_conv_kernels() {
  const std::lock_guard<std::mutex> lock(kernels_mutex);
  std::string line;
  for (const auto& [kernels, shapes] : kernels_used)
    line += (line.empty() ? "" : "; ") + std::to_string(shapes.size()) + " shape" +
            (shapes.size() == 1 ? "" : "s") + " on " + kernels;
  return line.empty() ? line
                      : "oneDNN convolutions (forward / backward data / backward weights): " + line;
}

std::string onednn_conv_implementation(const OnednnConvShape& shape) {
  const Primitives& p = primitives_for(shape);
  return std::string(p.forward_pd.impl_info_str()) + " / " + p.backward_data_pd.impl_info_str() +
         " / " + p.backward_weights_pd.impl_info_str();
}

}  // namespace cnn
