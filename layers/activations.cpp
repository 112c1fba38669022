// The activation layers: a Module per kind that calls its core op (core/ops_activation.cpp,
// relu in core/ops_elementwise.cpp), and their registration.
#include "layers/activations.h"

#include <sstream>

#include "core/ops.h"
#include "layers/registry.h"

namespace cnn {

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
