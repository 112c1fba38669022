// Identity: returns its input. Stands in for a normalization switched off (`norm: none`)
// so the layers after it keep their indices and state-dict names, and replaces a BN
// folded into the convolution before it.
#pragma once

#include "layers/module.h"

namespace cnn {

class Identity : public Module {
 public:
  Tensor forward(const Tensor& input) override { return input; }
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return "identity"; }
};

}  // namespace cnn
