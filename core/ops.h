// Differentiable tensor ops. Each is recorded on the tape when an input requires grad.
// Binary element-wise ops broadcast numpy-style (trailing dimensions aligned, size-1
// dimensions stretched), e.g. [N,C,H,W] + [1,C,1,1] for a per-channel bias.
#pragma once

#include "core/tensor.h"

namespace cnn {

// Element-wise arithmetic with broadcasting.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor pow_scalar(const Tensor& a, float exponent);
Tensor neg(const Tensor& a);

// Unary maps.
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor relu(const Tensor& a);
// relu(a + b) for same-shape tensors in one pass each way (a residual block's sum and activation).
Tensor add_relu(const Tensor& a, const Tensor& b);
Tensor sqrt(const Tensor& a);

// Activations beyond relu, as torch.nn.functional's (core/ops_activation.cpp); the layers
// of the same names (layers/activations.h) wrap them.
Tensor leaky_relu(const Tensor& x, float negative_slope = 0.01f);
Tensor elu(const Tensor& x, float alpha = 1.0f);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);  // the exact erf form (PyTorch's approximate='none')
Tensor silu(const Tensor& x);  // x * sigmoid(x)

// Matrix product of [M,K] and [K,N] (OpenBLAS sgemm); transpose flags apply to the inputs.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false,
              bool transpose_b = false);

// Reductions. dims may be negative; keepdim keeps reduced dimensions as size 1.
Tensor sum(const Tensor& a);  // all elements -> shape []
Tensor mean(const Tensor& a);
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);

// Shape ops (differentiable): reshape copies when the input is not contiguous.
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor flatten(const Tensor& a, int64_t start_dim = 1);  // [N,C,H,W] -> [N,C*H*W]

// Broadcast helpers shared by ops and layers.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sums `grad` (of the broadcast shape) back down to `shape`.
Tensor reduce_to_shape(const Tensor& grad, const Shape& shape);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return add_scalar(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add_scalar(a, -s); }
inline Tensor operator*(const Tensor& a, float s) { return mul_scalar(a, s); }
inline Tensor operator*(float s, const Tensor& a) { return mul_scalar(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return mul_scalar(a, 1.0f / s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace cnn
