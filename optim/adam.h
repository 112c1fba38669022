// Adam (Kingma & Ba 2015) with optional AMSGrad, and AdamW (Loshchilov & Hutter 2019,
// decoupled weight decay), following torch.optim.Adam / AdamW (PyTorch 1.13).
#pragma once

#include "optim/optimizer.h"

namespace cnn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: decoupled
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options);

  const AdamOptions& options() const { return options_; }
  std::string type() const override { return decoupled_ ? "adamw" : "adam"; }
  std::string describe() const override;

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);
  void update(const ParamGroup& group, ParamState& state, Tensor& param,
              const Tensor& grad) override;
  std::vector<StateField> state_fields() const override;

 private:
  AdamOptions options_;
  bool decoupled_ = false;  // AdamW
};

// AdamW's default weight_decay is 1e-2 (PyTorch's), not Adam's 0.
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
      : Adam(std::move(groups), options, true) {}
};

}  // namespace cnn
