// Kernels every convolution path's backward shares, whatever computed the forward.
#pragma once

#include <cstdint>

namespace cnn {

// db [O] = sum of gy [N,O,P] over N and P (rows in float, vectorized; across rows in double).
void conv_bias_gradient(const float* gy, int64_t N, int64_t O, int64_t P, float* db);

// The gradient through a fused ReLU: out[i] = gy[i] where y[i] > 0, else 0 (a select, so an
// inf or NaN gradient where the output was clipped is dropped, not multiplied by 0).
void relu_mask_gradient(const float* gy, const float* y, int64_t n, float* out);

}  // namespace cnn
