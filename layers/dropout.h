// Dropout (Srivastava et al. 2014), inverted as torch.nn.Dropout: in training each element
// is zeroed with probability p and the survivors scaled by 1/(1-p); in eval it is the
// identity. YAML (type `dropout`): p=0.5. The mask comes from the layer's own Generator,
// seeded at build time from the model's generator, so a seeded run is reproducible.
#pragma once

#include "core/random.h"
#include "layers/module.h"

namespace cnn {

class Dropout : public Module {
 public:
  Dropout(float p, uint64_t seed);
  Tensor forward(const Tensor& input) override;  // any shape -> same shape
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return "dropout"; }
  std::string describe() const override;
  float p() const { return p_; }
  Generator& generator() { return generator_; }  // to reseed, or save/restore for resume

 private:
  float p_;
  Generator generator_;
};

// The differentiable function: identity unless training; draws one uniform per element.
Tensor dropout(const Tensor& input, float p, bool training, Generator& generator);

}  // namespace cnn
