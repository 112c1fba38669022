// Element-wise activation layers, as their torch.nn namesakes:
//   relu, leaky_relu (negative_slope=0.01), elu (alpha=1.0), sigmoid, tanh,
//   gelu (the exact erf form, PyTorch's default), silu (x * sigmoid(x)).
#pragma once

#include "core/ops.h"  // the differentiable functions themselves (relu, ..., silu)
#include "layers/module.h"

namespace cnn {

class Activation : public Module {
 public:
  enum class Kind { ReLU, LeakyReLU, ELU, Sigmoid, Tanh, GELU, SiLU };
  // `parameter` is leaky_relu's negative_slope or elu's alpha; ignored otherwise.
  explicit Activation(Kind kind, float parameter = 0.0f);

  Tensor forward(const Tensor& input) override;  // any shape -> same shape
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override;
  std::string describe() const override;
  Kind kind() const { return kind_; }
  float parameter() const { return parameter_; }  // negative_slope or alpha

 private:
  Kind kind_;
  float parameter_;
};

}  // namespace cnn
