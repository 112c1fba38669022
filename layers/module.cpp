// Module bookkeeping: registration, recursive naming, modes and state dicts.
#include "layers/module.h"

#include <map>

#include "core/ops.h"

namespace cnn {

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
  on_mode_change();
}

Tensor Module::forward_relu(const Tensor& input) { return relu(forward(input)); }

Tensor Module::forward_relu_max_pool2x2(const Tensor&) { return Tensor(); }

Tensor Module::forward_add_relu(const Tensor&, const Tensor&) { return Tensor(); }

void Module::register_parameter(const std::string& name, Tensor* slot) {
  if (slot->defined()) slot->set_requires_grad(true);
  parameters_.emplace_back(name, slot);
}

void Module::register_buffer(const std::string& name, Tensor* slot) {
  buffers_.emplace_back(name, slot);
}

void Module::register_module(const std::string& name, std::shared_ptr<Module> child) {
  children_.emplace_back(name, std::move(child));
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> child) {
  for (auto& [existing, slot] : children_)
    if (existing == name) {
      slot = std::move(child);
      return;
    }
  CNN_FAIL("replace_module: no child named '", name, "'");
}

void Module::collect(const std::string& prefix, bool parameters, bool buffers,
                     std::vector<NamedTensor>& out) const {
  if (parameters)
    for (const auto& [name, slot] : parameters_)
      if (slot->defined()) out.emplace_back(prefix + name, *slot);
  if (buffers)
    for (const auto& [name, slot] : buffers_)
      if (slot->defined()) out.emplace_back(prefix + name, *slot);
  for (const auto& [name, child] : children_)
    child->collect(prefix + name + ".", parameters, buffers, out);
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", true, false, out);
  return out;
}

std::vector<NamedTensor> Module::named_buffers() const {
  std::vector<NamedTensor> out;
  collect("", false, true, out);
  return out;
}

std::vector<NamedTensor> Module::state_dict() const {
  std::vector<NamedTensor> out;
  collect("", true, true, out);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : named_parameters()) count += tensor.numel();
  return count;
}

void Module::load_state_dict(const std::vector<NamedTensor>& state, bool strict) {
  std::map<std::string, Tensor> given(state.begin(), state.end());
  std::vector<NamedTensor> own = state_dict();
  for (auto& [name, tensor] : own) {
    auto found = given.find(name);
    if (found == given.end()) {
      CNN_CHECK(!strict, "load_state_dict: the model's tensor '", name, "' ",
                shape_str(tensor.shape()), " is missing from the weights");
      continue;
    }
    const Tensor& source = found->second;
    CNN_CHECK(source.shape() == tensor.shape(), "load_state_dict: tensor '", name, "' has shape ",
              shape_str(source.shape()), " in the weights but ", shape_str(tensor.shape()),
              " in the model");
    CNN_CHECK(source.dtype() == tensor.dtype(), "load_state_dict: tensor '", name, "' is ",
              dtype_name(source.dtype()), " in the weights but ", dtype_name(tensor.dtype()),
              " in the model");
    Tensor target = tensor;
    target.copy_(source);
    given.erase(found);
  }
  if (strict && !given.empty())
    CNN_FAIL("load_state_dict: the weights hold '", given.begin()->first,
             "', which the model does not have (", given.size(), " unexpected tensors)");
}

}  // namespace cnn
