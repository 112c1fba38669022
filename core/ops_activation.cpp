// Activation functions (torch.nn.functional's leaky_relu, elu, sigmoid, tanh, gelu, silu;
// relu is in ops_elementwise.cpp): each forward is one element-wise map, and its backward
// multiplies the output gradient by the derivative, computed from the saved input or output
// (whichever is cheaper). layers/activations.h wraps each in a Module.
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/elementwise_map.h"

namespace cnn {

namespace {

// Records `name` with backward dy * derivative(saved).
template <typename F>
Tensor record_unary(const char* name, const Tensor& input, Tensor out, Tensor saved,
                    F derivative) {
  return record_op(name, out, {input}, [saved, derivative](const Tensor& grad_output) {
    return std::vector<Tensor>{grad_times(grad_output, saved, derivative)};
  });
}

inline float sigmoid_of(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

// y = x > 0 ? x : slope * x
Tensor leaky_relu(const Tensor& x, float slope) {
  Tensor out = map_unary(x, [slope](float v) { return v > 0.0f ? v : slope * v; });
  return record_unary("leaky_relu", x, out, x.contiguous().detach(),
                      [slope](float v) { return v > 0.0f ? 1.0f : slope; });
}

// y = x > 0 ? x : alpha * (exp(x) - 1); dy/dx = 1 or y + alpha, from the output.
Tensor elu(const Tensor& x, float alpha) {
  Tensor out = map_unary(x, [alpha](float v) { return v > 0.0f ? v : alpha * std::expm1(v); });
  return record_unary("elu", x, out, out.detach(),
                      [alpha](float y) { return y > 0.0f ? 1.0f : y + alpha; });
}

// y = 1 / (1 + exp(-x)); dy/dx = y (1 - y)
Tensor sigmoid(const Tensor& x) {
  Tensor out = map_unary(x, sigmoid_of);
  return record_unary("sigmoid", x, out, out.detach(), [](float y) { return y * (1.0f - y); });
}

// dy/dx = 1 - y^2
Tensor tanh(const Tensor& x) {
  Tensor out = map_unary(x, [](float v) { return std::tanh(v); });
  return record_unary("tanh", x, out, out.detach(), [](float y) { return 1.0f - y * y; });
}

// y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2 (Hendrycks &
// Gimpel 2016; PyTorch's approximate='none'); dy/dx = Phi(x) + x * phi(x).
Tensor gelu(const Tensor& x) {
  constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
  Tensor out = map_unary(x, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2)); });
  return record_unary("gelu", x, out, x.contiguous().detach(), [](float v) {
    return 0.5f * (1.0f + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
  });
}

// y = x * s, s = sigmoid(x) (Elfwing et al. 2017); dy/dx = s (1 + x (1 - s))
Tensor silu(const Tensor& x) {
  Tensor out = map_unary(x, [](float v) { return v * sigmoid_of(v); });
  return record_unary("silu", x, out, x.contiguous().detach(), [](float v) {
    const float s = sigmoid_of(v);
    return s * (1.0f + v * (1.0f - s));
  });
}

}  // namespace cnn
