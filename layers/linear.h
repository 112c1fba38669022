// Linear: y = x W^T + b, as torch.nn.Linear (weight [out_features, in_features]).
//
// YAML (type `linear`): out_features (required), bias=true. in_features is the input's
// last dimension (put a `flatten` before it after convolutions).
#pragma once

#include "core/random.h"
#include "layers/module.h"

namespace cnn {

class Linear : public Module {
 public:
  // PyTorch's init: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (weight
  // via kaiming_uniform_(a=sqrt(5))), drawn from `generator`, weight first.
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& generator);

  Tensor forward(const Tensor& input) override;  // [..., F] -> [..., out_features]
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "linear"; }
  std::string describe() const override;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  Tensor& weight() { return weight_; }  // [out_features, in_features]
  Tensor& bias() { return bias_; }      // [out_features] or undefined

 private:
  int64_t in_features_, out_features_;
  Tensor weight_;
  Tensor bias_;
};

// The differentiable function: x [..., F], weight [O, F], bias [O] or undefined -> [..., O].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias);

}  // namespace cnn
