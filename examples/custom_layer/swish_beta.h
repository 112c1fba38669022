// Swish with a learnable beta (Ramachandran, Zoph and Le, "Searching for Activation
// Functions", 2017): y = x * sigmoid(beta * x). beta = 1 is SiLU; as beta grows it tends to
// ReLU. An example of the custom-op API: the op is a cnn::CustomOp whose forward and
// backward are written by hand, side by side, and checked against finite differences.
//
// YAML (type `swish_beta`): beta=1.0 (initial value), learnable=true (false keeps beta as a
// buffer: saved with the weights, never trained). Its one tensor is named `beta`, shape [1].
#pragma once

#include "layers/module.h"

namespace cnn::example {

// The differentiable function: x any shape, beta [1] -> y, the shape of x.
Tensor swish_beta(const Tensor& x, const Tensor& beta);

class SwishBeta : public Module {
 public:
  SwishBeta(float beta, bool learnable);

  Tensor forward(const Tensor& input) override { return swish_beta(input, beta_); }
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return "swish_beta"; }
  std::string describe() const override;

  Tensor& beta() { return beta_; }

 private:
  Tensor beta_;  // [1]
  bool learnable_;
};

}  // namespace cnn::example
