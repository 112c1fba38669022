// Flatten: merges dimensions start_dim..end_dim into one, as torch.nn.Flatten
// ([N,C,H,W] -> [N, C*H*W] with the defaults). YAML (type `flatten`): start_dim=1, end_dim=-1.
#pragma once

#include "layers/module.h"

namespace cnn {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  Tensor forward(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "flatten"; }
  std::string describe() const override;

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace cnn
