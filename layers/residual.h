// Residual block (He et al. 2016): y = activation(body(x) + shortcut(x)).
//
// YAML (type `residual`):
//   body: [layers...]            the residual branch, built like the model's layer list
//   shortcut: auto               auto | identity | conv. auto: identity when the body keeps
//                                the shape, else a 1x1 conv (stride and out channels to
//                                match) followed by the model's `norm` ("option B")
//   activation: relu             relu | none, applied after the sum
// Children are named `body` and `shortcut` (state-dict names like `3.body.0.weight`,
// `3.shortcut.0.weight`); an identity shortcut has no child.
#pragma once

#include "layers/module.h"

namespace cnn {

class Residual : public Module {
 public:
  // shortcut == nullptr means identity; body and shortcut must map the input to the same shape.
  Residual(ModulePtr body, ModulePtr shortcut, bool relu_after);

  Tensor forward(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "residual"; }
  std::string describe() const override;

  Module& body() { return *body_; }
  Module* shortcut() { return shortcut_.get(); }  // nullptr for identity
  bool relu_after() const { return relu_after_; }
  // Throws a sentence naming the block when the body's output shape and the shortcut's
  // differ (forward checks it; so does the fused step of layers/fusion.cpp).
  void check_sum_shapes(const Shape& branch, const Shape& skip, const Shape& input) const;

 private:
  ModulePtr body_;
  ModulePtr shortcut_;
  bool relu_after_;
};

}  // namespace cnn
