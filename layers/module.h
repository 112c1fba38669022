// The layer contract. A Module has named parameters (trained), named buffers (saved,
// never trained: running statistics), children, and a train/eval mode that containers
// pass down. Names and layouts follow PyTorch exactly, so state dicts are interchangeable.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace cnn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& input) = 0;
  // The output shape for an input shape (batch dimension included, e.g. [N,C,H,W]).
  // Throws a sentence naming the layer and the shapes when the input does not fit.
  virtual Shape output_shape(const Shape& input) const = 0;
  // The registry name ("conv2d") and a one-line description with the settings.
  virtual std::string type() const = 0;
  virtual std::string describe() const { return type(); }

  Tensor operator()(const Tensor& input) { return forward(input); }

  void train(bool on = true);  // this module and all children
  void eval() { train(false); }
  bool training() const { return training_; }

  // Recursive, dotted names ("3.weight", "0.body.1.running_mean"); undefined slots skipped.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<NamedTensor> named_buffers() const;
  // PyTorch's state_dict order: own parameters, own buffers, then each child's.
  std::vector<NamedTensor> state_dict() const;
  // Copies values by name; every name and shape must match (strict) or extra/missing
  // names are ignored (non-strict). Errors name the tensor and both shapes.
  void load_state_dict(const std::vector<NamedTensor>& state, bool strict = true);
  int64_t parameter_count() const;

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

  // ---- Fusion hooks. The passes of layers/fusion.h ask them once, when they rewrite a
  // built model (containers never do). Any layer, a user's too, opts in by overriding; a
  // fused forward must give what the layers one after the other give.
  //
  // Whether this layer can apply a ReLU that follows it as it writes its output. If so,
  // forward_relu(x) computes relu(forward(x)) as one op, gradient included, in training and
  // in evaluation (the default computes the two ops one after the other).
  virtual bool absorbs_relu() const { return false; }
  virtual Tensor forward_relu(const Tensor& input);
  // Evaluation epilogues (no tape): max_pool2d(relu(forward(x)), kernel 2, stride 2) and
  // relu(forward(x) + residual) (a residual block's sum, the body's last layer writing it),
  // each in one pass over the output. Each returns an undefined tensor when it cannot take
  // the fused path for this input (a gradient is needed, a geometry its kernel lacks: the
  // default always), and the pass's step then runs the unfused ops.
  virtual Tensor forward_relu_max_pool2x2(const Tensor& input);
  virtual Tensor forward_add_relu(const Tensor& input, const Tensor& residual);

 protected:
  // Slots point at members of the derived layer, so a layer may replace the tensor
  // (e.g. BN folding) and the registry stays right. Parameters get requires_grad.
  void register_parameter(const std::string& name, Tensor* slot);
  void register_buffer(const std::string& name, Tensor* slot);
  void register_module(const std::string& name, std::shared_ptr<Module> child);
  void replace_module(const std::string& name, std::shared_ptr<Module> child);
  // Called after the mode changed (a frozen BN stays in eval behaviour, for instance).
  virtual void on_mode_change() {}

 private:
  void collect(const std::string& prefix, bool parameters, bool buffers,
               std::vector<NamedTensor>& out) const;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor*>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace cnn
