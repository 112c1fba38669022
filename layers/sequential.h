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
  void append(ModulePtr layer);  // drops fused steps, as replace does
  size_t size() const { return children().size(); }
  ModulePtr at(size_t index) const { return children().at(index).second; }
  // Replaces child `index` in place (its name, and so the state-dict names, stay). Drops
  // this container's fused steps (run the fusion pass again).
  void replace(size_t index, ModulePtr layer);

  Tensor forward(const Tensor& input) override;  // each step in turn
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "sequential"; }
  std::string describe() const override;

  // What forward runs, in order: the children themselves, until a fusion pass
  // (layers/fusion.h) installs steps that each stand for a run of them (a conv2d and the
  // relu after it as one op). Steps are not children: names, state dicts and modes stay
  // the children's, and a step reads its layers' weights and modes when it runs.
  void set_steps(std::vector<ModulePtr> steps);
  void clear_steps();  // back to the children
  const std::vector<ModulePtr>& steps() const { return steps_; }
  bool fused() const { return fused_; }

  // Sees each child's output; only on an unfused container (layer statistics ask for
  // every layer's own output, so a run that records them skips the fusion pass).
  void set_observer(Observer observer);

 private:
  std::vector<ModulePtr> layers_;
  std::vector<ModulePtr> steps_;  // == layers_ unless fused_
  bool fused_ = false;
  Observer observer_;
};

}  // namespace cnn
