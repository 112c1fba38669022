// Layer normalization (Ba, Kiros & Hinton 2016): each sample normalised over all its
// values, (C,H,W) for maps or (F) for features, as torch.nn.LayerNorm([C, H, W]) does,
// with an element-wise affine of that shape. Same in training and eval.
//
//   LayerNormOptions options;  options.normalized_shape = {16, 8, 8};
//   LayerNorm ln(options);
//   Tensor y = ln(x);  // x [N,16,8,8]
#pragma once

#include <string>

#include "layers/module.h"

namespace cnn {

struct LayerNormOptions {
  Shape normalized_shape;  // the input's shape without the batch dimension
  float eps = 1e-5f;
  bool elementwise_affine = true;  // weight (init 1) and bias (init 0) of normalized_shape
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  Tensor forward(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "layernorm"; }
  std::string describe() const override;

  const LayerNormOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }

 private:
  LayerNormOptions options_;
  Tensor weight_, bias_;  // normalized_shape
};

}  // namespace cnn
