// Pooling's raw kernels over [planes, H, W] float maps (planes = N*C), forward and backward
// side by side: max pooling (remembering each window's first maximum; NaN propagates, as in
// PyTorch), average pooling (PyTorch's divisor) and global average pooling. layers/pool2d.cpp
// checks the geometry and wraps them in the differentiable functions and modules.
#pragma once

#include <cstdint>
#include <utility>

namespace cnn {

struct PoolGeometry {
  int64_t planes, H, W, OH, OW;
};

// The windows: output (oh, ow) covers rows oh*stride - padding .. + kernel (clipped).
struct PoolWindows {
  std::pair<int64_t, int64_t> kernel{1, 1}, stride{1, 1}, padding{0, 0};
  bool count_include_pad = true;  // average pooling's divisor counts the padding
};

// 2x2 windows, stride 2, no padding, every window inside the input: the case with a loop
// the compiler vectorizes (max_pool_2x2).
bool is_plain_2x2(const PoolWindows& p, const PoolGeometry& g);

// x -> y [planes, OH, OW] and, with kArgmax, each maximum's index within its input plane.
// Only for is_plain_2x2; same result as max_pool_forward.
template <bool kArgmax>
void max_pool_2x2(const float* x, const PoolGeometry& g, float* y, int64_t* argmax);
// Any windows: y and argmax [planes, OH, OW] (padding counts as -inf).
void max_pool_forward(const float* x, const PoolWindows& p, const PoolGeometry& g, float* y,
                      int64_t* argmax);
// dx (zeroed by the caller) += dy at each window's maximum.
void max_pool_backward(const float* dy, const int64_t* argmax, const PoolGeometry& g, float* dx);

void avg_pool_forward(const float* x, const PoolWindows& p, const PoolGeometry& g, float* y);
// dx (zeroed by the caller): each output gradient, divided like the forward, spread over
// its window.
void avg_pool_backward(const float* dy, const PoolWindows& p, const PoolGeometry& g, float* dx);

// x [planes, area] -> y [planes]: the mean of each plane; backward dx = dy / area everywhere.
void global_avg_pool_forward(const float* x, int64_t planes, int64_t area, float* y);
void global_avg_pool_backward(const float* dy, int64_t planes, int64_t area, float* dx);

}  // namespace cnn
