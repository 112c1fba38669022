// The optimizer base: parameter groups, step/zero_grad, learning-rate control and a
// per-parameter state that can be saved and restored exactly (for resume).
//
//   cnn::SGD sgd({cnn::all_parameters(model.named_parameters())}, {.lr = 0.1, .momentum = 0.9});
//   loss.backward(); sgd.step(); sgd.zero_grad();
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cnn {

// A set of parameters sharing a learning rate and weight decay (PyTorch's param_groups).
// Unset fields take the optimizer's own option when the optimizer is constructed; after
// that they are always set.
struct ParamGroup {
  std::vector<Tensor> params = {};
  std::vector<std::string> names = {};  // one per param (state names, errors); empty: "g<i>.<j>"
  std::optional<double> lr = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
  std::string label = {};  // "all", "decay", "no_decay" (make_param_groups)
};

// One group ("all") holding every one of `parameters` (a model's named_parameters()).
ParamGroup all_parameters(const std::vector<NamedTensor>& parameters);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter whose gradient is defined (others are skipped, as in
  // PyTorch). Runs without recording on the tape.
  void step();
  // Drops every parameter's gradient (the next backward writes a fresh one).
  void zero_grad();

  // Sets the learning rate of every group (what a schedule does each iteration).
  void set_lr(double lr);
  // Sets each group's lr to its base lr (the lr it was built with) times `factor`.
  void scale_lr(double factor);
  double lr(size_t group = 0) const;
  double base_lr(size_t group = 0) const;
  const std::vector<ParamGroup>& groups() const { return groups_; }
  int64_t steps_taken() const { return steps_taken_; }

  // The state as named tensors, ready for a safetensors file:
  //   "param.<param name>.<field>" (momentum_buffer, exp_avg, step, ...) and
  //   "optimizer.steps" (int64 []). Tensors are copies.
  std::vector<NamedTensor> state_tensors() const;
  // Restores a state saved by the same kind of optimizer over the same parameters.
  // Everything is checked (names, fields, shapes, dtypes) before anything changes;
  // parameters absent from `state` start with no state, as before their first step.
  void load_state_tensors(const std::vector<NamedTensor>& state);

  virtual std::string type() const = 0;  // "sgd", "adam", "adamw"
  virtual std::string describe() const = 0;

 protected:
  // A per-parameter state tensor: float32 of the parameter's shape, or an int64 counter [].
  struct StateField {
    std::string name;
    bool counter = false;
  };
  using ParamState = std::map<std::string, Tensor>;

  Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay);

  // Updates one parameter in place from its (contiguous) gradient. `state` is empty
  // before the parameter's first step.
  virtual void update(const ParamGroup& group, ParamState& state, Tensor& param,
                      const Tensor& grad) = 0;
  // The fields update() keeps for every parameter it has stepped.
  virtual std::vector<StateField> state_fields() const = 0;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<double> base_lrs_;
  std::vector<std::vector<ParamState>> state_;  // [group][param]
  int64_t steps_taken_ = 0;
};

// Helpers shared by the optimizers.
namespace optim_detail {
std::string format_number(double value);
}  // namespace optim_detail

}  // namespace cnn
