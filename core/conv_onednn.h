// Convolution through oneDNN's convolution primitives (Debian libdnnl-dev 2.6), fp32 tensors
// at the interface in cnnlab's NCHW layout: in bf16 the operands are rounded to nearest even
// (as core/bf16.h, but a subnormal operand counts as 0) and the sums and outputs are fp32; in
// fp32 it is oneDNN's fp32 convolution. oneDNN picks its kernel from the CPU (brgconv/jit on
// avx512_core_bf16, AMX tiles where the process may use them).
// Shapes: x [N,C,H,W], w [O,C/groups,kh,kw], b [O] or null, y and gy [N,O,OH,OW].
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/im2col.h"

namespace cnn {

// The memory format the primitive is created with for the activations: `any` lets oneDNN
// choose (blocked nChw16c on this CPU), with reorders from and to cnnlab's NCHW; nchw and
// nhwc are fixed (bench compares them). The weights are always `any`.
enum class OnednnConvLayout { any, nchw, nhwc };
const char* onednn_conv_layout_name(OnednnConvLayout layout);

struct OnednnConvShape {
  ConvGeometry geometry;
  int64_t batch = 0, out_channels = 0, groups = 1;
  bool bf16 = false;  // bf16 operands with fp32 sums, else fp32
  bool bias = false;  // the forward adds b
  OnednnConvLayout layout = OnednnConvLayout::any;
};

// Whether oneDNN makes all three primitives for the shape here (it may refuse bf16 on a CPU
// without AVX-512); the answer is cached per shape.
bool onednn_conv_supported(const OnednnConvShape& shape);

// Whether it is supported and oneDNN's forward kernel for it is not its reference loop
// ("ref:any", many times slower than im2col): where the layers route a conv here.
bool onednn_conv_runs_fast(const OnednnConvShape& shape);

// Whether oneDNN has a non-reference bf16 convolution kernel on this CPU (a 3x3 probe).
bool onednn_bf16_conv_available();

// The forward's input as the primitives read it (in bf16: rounded, in oneDNN's blocked
// layout), kept for the weight gradient instead of x: half of x's bytes in bf16, and the
// backward skips rounding and reordering x again. Opaque; freed with its last owner.
struct OnednnConvInput;

// y = conv(x, w) + b, max(y, 0) with relu (a post-op of the primitive). With keep_input,
// returns x in the primitives' format for onednn_conv_backward, or null where the primitive
// reads x as it is (fp32 NCHW: keep x itself).
std::shared_ptr<const OnednnConvInput> onednn_conv_forward(const OnednnConvShape& shape,
                                                           const float* x, const float* w,
                                                           const float* b, bool relu, float* y,
                                                           bool keep_input = false);

// gy -> dx (if dx) and dw (if dw), both overwritten; x (or kept_x, from the forward of the
// same shape) is needed only for dw, w only for dx.
// The bias gradient is not computed here: conv_bias_gradient sums the fp32 gy
// (core/conv_gradients.h), more exactly than oneDNN's sum of the bf16-rounded gy would.
void onednn_conv_backward(const OnednnConvShape& shape, const float* x, const float* gy,
                          const float* w, float* dx, float* dw,
                          const OnednnConvInput* kept_x = nullptr);

// oneDNN's implementations for the shape, "forward / backward data / backward weights"
// ("brgconv:avx512_core_bf16 / jit:avx512_core_bf16 / ..."), for bench and train.log.
std::string onednn_conv_implementation(const OnednnConvShape& shape);

// One line for train.log and bench: how many shapes ran on each oneDNN kernel triple so far
// ("oneDNN convolutions (...): 6 shapes on jit_bf16:avx512_core_bf16 / ..."); "" when none.
std::string describe_onednn_conv_kernels();

}  // namespace cnn
