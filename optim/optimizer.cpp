// Optimizer bookkeeping: group defaults, the step loop and exact state save/restore.
#include "optim/optimizer.h"

#include <cstdio>
#include <set>

#include "core/autograd.h"

namespace cnn {

namespace optim_detail {
std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}
}  // namespace optim_detail

ParamGroup all_parameters(const std::vector<NamedTensor>& parameters) {
  ParamGroup group;
  for (const auto& [name, tensor] : parameters) {
    group.params.push_back(tensor);
    group.names.push_back(name);
  }
  group.label = "all";
  return group;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay)
    : groups_(std::move(groups)) {
  size_t total = 0;
  for (const ParamGroup& group : groups_) total += group.params.size();
  CNN_CHECK(total > 0, "optimizer: there are no parameters to optimize (", groups_.size(),
            " parameter groups, all empty)");
  std::set<const TensorImpl*> seen_params;
  std::set<std::string> seen_names;
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& group = groups_[g];
    if (group.names.empty())
      for (size_t i = 0; i < group.params.size(); ++i)
        group.names.push_back(detail::concat("g", g, ".", i));
    CNN_CHECK(group.names.size() == group.params.size(), "optimizer: parameter group ", g, " has ",
              group.params.size(), " parameters but ", group.names.size(), " names");
    if (!group.lr) group.lr = default_lr;
    if (!group.weight_decay) group.weight_decay = default_weight_decay;
    CNN_CHECK(*group.lr >= 0.0, "optimizer: parameter group ", g, " has a negative learning rate (",
              *group.lr, ")");
    CNN_CHECK(*group.weight_decay >= 0.0, "optimizer: parameter group ", g,
              " has a negative weight_decay (", *group.weight_decay, ")");
    for (size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& param = group.params[i];
      const std::string& name = group.names[i];
      CNN_CHECK(param.defined(), "optimizer: parameter '", name, "' is undefined");
      CNN_CHECK(param.dtype() == DType::Float32 && param.is_contiguous(), "optimizer: parameter '",
                name, "' must be a contiguous float32 tensor");
      CNN_CHECK(seen_params.insert(param.impl()).second, "optimizer: parameter '", name,
                "' appears more than once (in one group or in two); give each parameter to "
                "exactly one group");
      CNN_CHECK(seen_names.insert(name).second, "optimizer: two parameters are named '", name,
                "'; names must be unique, they key the saved state");
    }
    base_lrs_.push_back(*group.lr);
    state_.emplace_back(group.params.size());
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    for (size_t i = 0; i < group.params.size(); ++i) {
      Tensor param = group.params[i];
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      CNN_CHECK(grad.shape() == param.shape() && grad.dtype() == DType::Float32, type(),
                ": the gradient of '", group.names[i], "' has shape ", shape_str(grad.shape()),
                " but the parameter has ", shape_str(param.shape()));
      update(group, state_[g][i], param, grad.contiguous());
    }
  }
  ++steps_taken_;
}

void Optimizer::zero_grad() {
  for (ParamGroup& group : groups_)
    for (Tensor& param : group.params) param.zero_grad();
}

void Optimizer::set_lr(double lr) {
  CNN_CHECK(lr >= 0.0, type(), ": a learning rate must be >= 0, got ", lr);
  for (ParamGroup& group : groups_) group.lr = lr;
}

void Optimizer::scale_lr(double factor) {
  CNN_CHECK(factor >= 0.0, type(), ": a learning-rate factor must be >= 0, got ", factor);
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = base_lrs_[g] * factor;
}

double Optimizer::lr(size_t group) const {
  CNN_CHECK(group < groups_.size(), type(), ": no parameter group ", group, " (there are ",
            groups_.size(), ")");
  return *groups_[group].lr;
}

double Optimizer::base_lr(size_t group) const {
  CNN_CHECK(group < groups_.size(), type(), ": no parameter group ", group, " (there are ",
            groups_.size(), ")");
  return base_lrs_[group];
}

namespace {
const std::string kParamPrefix = "param.";
const std::string kStepsName = "optimizer.steps";
}  // namespace

std::vector<NamedTensor> Optimizer::state_tensors() const {
  std::vector<NamedTensor> out;
  out.emplace_back(kStepsName, Tensor::from_int64({}, {steps_taken_}));
  const std::vector<StateField> fields = state_fields();
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const ParamState& state = state_[g][i];
      if (state.empty()) continue;  // never stepped
      for (const StateField& field : fields) {
        auto found = state.find(field.name);
        if (found == state.end()) continue;
        out.emplace_back(kParamPrefix + groups_[g].names[i] + "." + field.name,
                         found->second.clone());
      }
    }
  return out;
}

void Optimizer::load_state_tensors(const std::vector<NamedTensor>& state) {
  const std::vector<StateField> fields = state_fields();
  std::string field_list;
  for (const StateField& field : fields)
    field_list += (field_list.empty() ? "" : ", ") + field.name;
  if (field_list.empty()) field_list = "none";

  // Where each parameter lives, by name.
  std::map<std::string, std::pair<size_t, size_t>> where;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) where[groups_[g].names[i]] = {g, i};

  // Check everything first, so a bad file leaves the optimizer as it was.
  std::map<std::string, ParamState> loaded;  // by parameter name
  std::optional<int64_t> steps;
  for (const auto& [name, tensor] : state) {
    if (name == kStepsName) {
      CNN_CHECK(tensor.defined() && tensor.dtype() == DType::Int64 && tensor.numel() == 1, type(),
                " state: '", name, "' must be one int64 value");
      steps = tensor.data_i64()[0];
      continue;
    }
    CNN_CHECK(name.rfind(kParamPrefix, 0) == 0, type(), " state: unexpected tensor '", name,
              "' (expected 'optimizer.steps' or 'param.<parameter name>.<field>')");
    const size_t dot = name.rfind('.');
    const std::string param_name = dot > kParamPrefix.size()
                                       ? name.substr(kParamPrefix.size(), dot - kParamPrefix.size())
                                       : "";
    const std::string field_name = name.substr(dot + 1);
    auto location = where.find(param_name);
    CNN_CHECK(location != where.end(), type(), " state: '", name, "' is for a parameter '",
              param_name, "' that this optimizer does not have (was it saved for another model?)");
    const StateField* field = nullptr;
    for (const StateField& candidate : fields)
      if (candidate.name == field_name) field = &candidate;
    CNN_CHECK(field, type(), " state: '", name, "' holds a field '", field_name, "' that ",
              describe(), " does not keep (its fields: ", field_list,
              "); was it saved by another optimizer or with other settings?");
    const Tensor& param = groups_[location->second.first].params[location->second.second];
    CNN_CHECK(tensor.defined(), type(), " state: '", name, "' is undefined");
    if (field->counter) {
      CNN_CHECK(tensor.dtype() == DType::Int64 && tensor.numel() == 1, type(), " state: '", name,
                "' must be one int64 value, found ", dtype_name(tensor.dtype()), " ",
                shape_str(tensor.shape()));
    } else {
      CNN_CHECK(tensor.dtype() == DType::Float32 && tensor.shape() == param.shape(), type(),
                " state: '", name, "' is ", dtype_name(tensor.dtype()), " ",
                shape_str(tensor.shape()), " but the parameter is float32 ",
                shape_str(param.shape()));
    }
    Tensor copy = field->counter ? Tensor::from_int64({}, {tensor.data_i64()[0]})
                                 : tensor.contiguous().clone();
    loaded[param_name][field_name] = copy;
  }
  for (const auto& [param_name, param_state] : loaded)
    for (const StateField& field : fields)
      CNN_CHECK(param_state.count(field.name), type(), " state: parameter '", param_name,
                "' has some state but not '", kParamPrefix, param_name, ".", field.name,
                "'; the state is incomplete");

  for (auto& group_state : state_)
    for (ParamState& param_state : group_state) param_state.clear();
  for (auto& [param_name, param_state] : loaded) {
    auto [g, i] = where[param_name];
    state_[g][i] = std::move(param_state);
  }
  if (steps) steps_taken_ = *steps;
}

}  // namespace cnn
