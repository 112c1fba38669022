// Pooling layers as torch.nn: MaxPool2d, AvgPool2d and a global average pool.
//
// YAML:
//   maxpool2d: kernel_size (required), stride (= kernel_size), padding=0, ceil_mode=false
//   avgpool2d: kernel_size (required), stride (= kernel_size), padding=0, ceil_mode=false,
//              count_include_pad=true
//   global_avgpool2d: no keys; [N,C,H,W] -> [N,C,1,1] like AdaptiveAvgPool2d(1)
#pragma once

#include <utility>

#include "layers/module.h"

namespace cnn {

struct Pool2dOptions {
  std::pair<int64_t, int64_t> kernel_size{2, 2}, stride{2, 2}, padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
};

// Output length of one pooled dimension, as PyTorch's pooling_output_shape: with ceil_mode
// the last window is kept only if it starts inside the input or its left padding.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                         bool ceil_mode);

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options);
  Tensor forward(const Tensor& input) override;  // [N,C,H,W] -> [N,C,OH,OW]
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "maxpool2d"; }
  std::string describe() const override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options);
  Tensor forward(const Tensor& input) override;  // [N,C,H,W] -> [N,C,OH,OW]
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "avgpool2d"; }
  std::string describe() const override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& input) override;  // [N,C,H,W] -> [N,C,1,1]
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "global_avgpool2d"; }
};

// The differentiable functions behind the layers.
Tensor max_pool2d(const Tensor& input, const Pool2dOptions& options);
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options);
Tensor global_avg_pool2d(const Tensor& input);

}  // namespace cnn
