// Sequential: runs its children in order; children are named "0", "1", ... as in
// torch.nn.Sequential. An optional observer sees every child's output (layer statistics).
#pragma once

#include <functional>

#include "layers/module.h"

namespace cnn {

class Sequential : public Module {
 public:
  using Observer = std::function<void(const std::string& name, const Module& layer,
                                      const Tensor& output)>;
  Sequential() = default;
  void append(ModulePtr layer);
  size_t size() const { return children().size(); }
  ModulePtr at(size_t index) const { return children().at(index).second; }
  // Replaces child `index` in place (its name, and so the state-dict names, stay).
  void replace(size_t index, ModulePtr layer);

  Tensor forward(const Tensor& input) override;
  // max(forward(input) + residual, 0): a residual block's sum, fused into the last conv2d
  // in evaluation.
  Tensor forward_add_relu(const Tensor& input, const Tensor& residual);
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "sequential"; }
  std::string describe() const override;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

 private:
  Tensor forward_layers(const Tensor& input, size_t end);  // layers [0, end), fused
  std::vector<ModulePtr> layers_;
  Observer observer_;
};

}  // namespace cnn
