// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay,
// following torch.optim.SGD (PyTorch 1.13) step for step.
#pragma once

#include "optim/optimizer.h"

namespace cnn {

struct SGDOptions {
  double lr = 0.01;  // PyTorch requires it; the YAML factory does too
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2: added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening 0
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);

  const SGDOptions& options() const { return options_; }
  std::string type() const override { return "sgd"; }
  std::string describe() const override;

 protected:
  void update(const ParamGroup& group, ParamState& state, Tensor& param,
              const Tensor& grad) override;
  std::vector<StateField> state_fields() const override;

 private:
  SGDOptions options_;
};

}  // namespace cnn
