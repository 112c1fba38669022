// A squeeze-and-excitation block (Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR
// 2018), defined outside the cnnlab library: it is built from core ops only, so the tape
// differentiates it and it needs no backward of its own.
//
//   x [N,C,H,W] -> squeeze: mean over H,W [N,C] -> fc1 [N,C/r] -> relu -> fc2 [N,C]
//     -> sigmoid -> y = x * gate[N,C,1,1]
//
// YAML (type `se_block`): reduction=4 (the paper's r; the hidden width is max(1, C / r)),
// bias=true. Parameters, in PyTorch's order: fc1.weight [C/r, C], fc1.bias, fc2.weight
// [C, C/r], fc2.bias (torchvision's SqueezeExcitation holds the same numbers as 1x1
// convolutions, [C/r, C, 1, 1]).
#pragma once

#include "core/random.h"
#include "layers/linear.h"
#include "layers/module.h"

namespace cnn::example {

class SEBlock : public Module {
 public:
  SEBlock(int64_t channels, int64_t reduction, bool bias, Generator& generator);

  Tensor forward(const Tensor& input) override;  // [N,C,H,W] -> [N,C,H,W]
  // Taking part in fusion (layers/fusion.h): a relu right after the block is applied as
  // the rescaled channels are written, max(x * gate, 0) in one pass (one op on the tape,
  // with its own backward), when a fusion pass asks.
  bool absorbs_relu() const override { return true; }
  Tensor forward_relu(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "se_block"; }
  std::string describe() const override;

  int64_t channels() const { return channels_; }
  int64_t hidden() const { return hidden_; }
  Linear& fc1() { return *fc1_; }
  Linear& fc2() { return *fc2_; }

 private:
  Tensor gates(const Tensor& input);  // [N,C,H,W] -> [N,C]
  int64_t channels_, hidden_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

}  // namespace cnn::example
