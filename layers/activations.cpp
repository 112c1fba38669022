// Activation functions: each forward is one element-wise map, and its backward multiplies
// the output gradient by the derivative, computed from the saved input or output
// (whichever is cheaper).
#include "layers/activations.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/registry.h"

namespace cnn {

namespace {

// out[i] = f(x[i])
template <typename F>
Tensor map_elements(const Tensor& input, F f) {
  Tensor x = input.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
  return out;
}

// dx[i] = dy[i] * derivative(saved[i]), saved being the op's input or output.
template <typename F>
Tensor grad_times(const Tensor& grad_output, const Tensor& saved, F derivative) {
  Tensor gy = grad_output.contiguous();
  Tensor dx = Tensor::empty(saved.shape());
  const float* pg = gy.data();
  const float* ps = saved.data();
  float* pd = dx.data();
  const int64_t n = saved.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) pd[i] = pg[i] * derivative(ps[i]);
  return dx;
}

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
  Tensor out = map_elements(x, [slope](float v) { return v > 0.0f ? v : slope * v; });
  return record_unary("leaky_relu", x, out, x.contiguous().detach(),
                      [slope](float v) { return v > 0.0f ? 1.0f : slope; });
}

// y = x > 0 ? x : alpha * (exp(x) - 1); dy/dx = 1 or y + alpha, from the output.
Tensor elu(const Tensor& x, float alpha) {
  Tensor out = map_elements(x, [alpha](float v) { return v > 0.0f ? v : alpha * std::expm1(v); });
  return record_unary("elu", x, out, out.detach(),
                      [alpha](float y) { return y > 0.0f ? 1.0f : y + alpha; });
}

// y = 1 / (1 + exp(-x)); dy/dx = y (1 - y)
Tensor sigmoid(const Tensor& x) {
  Tensor out = map_elements(x, sigmoid_of);
  return record_unary("sigmoid", x, out, out.detach(), [](float y) { return y * (1.0f - y); });
}

// dy/dx = 1 - y^2
Tensor tanh(const Tensor& x) {
  Tensor out = map_elements(x, [](float v) { return std::tanh(v); });
  return record_unary("tanh", x, out, out.detach(), [](float y) { return 1.0f - y * y; });
}

// y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2 (Hendrycks &
// Gimpel 2016; PyTorch's approximate='none'); dy/dx = Phi(x) + x * phi(x).
Tensor gelu(const Tensor& x) {
  constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
  Tensor out = map_elements(x, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2)); });
  return record_unary("gelu", x, out, x.contiguous().detach(), [](float v) {
    return 0.5f * (1.0f + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
  });
}

// y = x * s, s = sigmoid(x) (Elfwing et al. 2017); dy/dx = s (1 + x (1 - s))
Tensor silu(const Tensor& x) {
  Tensor out = map_elements(x, [](float v) { return v * sigmoid_of(v); });
  return record_unary("silu", x, out, x.contiguous().detach(), [](float v) {
    const float s = sigmoid_of(v);
    return s * (1.0f + v * (1.0f - s));
  });
}

Activation::Activation(Kind kind, float parameter) : kind_(kind), parameter_(parameter) {}

Tensor Activation::forward(const Tensor& input) {
  switch (kind_) {
    case Kind::ReLU: return relu(input);
    case Kind::LeakyReLU: return leaky_relu(input, parameter_);
    case Kind::ELU: return elu(input, parameter_);
    case Kind::Sigmoid: return sigmoid(input);
    case Kind::Tanh: return tanh(input);
    case Kind::GELU: return gelu(input);
    case Kind::SiLU: return silu(input);
  }
  CNN_FAIL("activation: unknown kind");
}

std::string Activation::type() const {
  switch (kind_) {
    case Kind::ReLU: return "relu";
    case Kind::LeakyReLU: return "leaky_relu";
    case Kind::ELU: return "elu";
    case Kind::Sigmoid: return "sigmoid";
    case Kind::Tanh: return "tanh";
    case Kind::GELU: return "gelu";
    case Kind::SiLU: return "silu";
  }
  return "activation";
}

std::string Activation::describe() const {
  std::ostringstream out;
  out << type();
  if (kind_ == Kind::LeakyReLU) out << "(negative_slope=" << parameter_ << ")";
  if (kind_ == Kind::ELU) out << "(alpha=" << parameter_ << ")";
  return out.str();
}

namespace {

LayerFactory simple(Activation::Kind kind) {
  return [kind](const LayerArgs&, BuildContext&) -> ModulePtr {
    return std::make_shared<Activation>(kind);
  };
}

CNNLAB_REGISTER_LAYER(LayerInfo{"relu", "max(x, 0)", {}, simple(Activation::Kind::ReLU)});
CNNLAB_REGISTER_LAYER(LayerInfo{
    "leaky_relu",
    "x for x > 0, negative_slope * x otherwise",
    {{"negative_slope", "0.01", "slope for negative inputs"}},
    [](const LayerArgs& args, BuildContext&) -> ModulePtr {
      return std::make_shared<Activation>(Activation::Kind::LeakyReLU,
                                          args.get_float("negative_slope"));
    }});
CNNLAB_REGISTER_LAYER(LayerInfo{
    "elu",
    "x for x > 0, alpha * (exp(x) - 1) otherwise",
    {{"alpha", "1.0", "saturation value for negative inputs"}},
    [](const LayerArgs& args, BuildContext&) -> ModulePtr {
      return std::make_shared<Activation>(Activation::Kind::ELU, args.get_float("alpha"));
    }});
CNNLAB_REGISTER_LAYER(LayerInfo{"sigmoid", "1 / (1 + exp(-x))", {},
                                simple(Activation::Kind::Sigmoid)});
CNNLAB_REGISTER_LAYER(LayerInfo{"tanh", "hyperbolic tangent", {}, simple(Activation::Kind::Tanh)});
CNNLAB_REGISTER_LAYER(LayerInfo{"gelu", "x * Phi(x), the exact erf form", {},
                                simple(Activation::Kind::GELU)});
CNNLAB_REGISTER_LAYER(LayerInfo{"silu", "x * sigmoid(x) (swish)", {},
                                simple(Activation::Kind::SiLU)});

}  // namespace

}  // namespace cnn
