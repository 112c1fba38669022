// The parameters weight decay spares: biases, 1-D parameters and every normalization layer's
// parameters (the usual practice since Goyal et al. 2017, "Accurate, Large Minibatch SGD").
#include "layers/param_groups.h"

#include <set>

#include "layers/registry.h"

namespace cnn {

bool is_normalization_type(const std::string& type) {
  static const std::set<std::string> norms = {"batchnorm1d", "batchnorm2d", "groupnorm",
                                              "layernorm", "instancenorm2d"};
  if (norms.count(type)) return true;
  const LayerInfo* info = find_layer(type);
  return info && info->is_normalization;
}

namespace {
// Adds the names of every parameter under a normalization module, prefixed like
// named_parameters() names them.
void collect_norm_parameters(const Module& module, const std::string& prefix,
                             std::set<std::string>& out) {
  if (is_normalization_type(module.type())) {
    for (const auto& [name, tensor] : module.named_parameters()) out.insert(prefix + name);
    return;
  }
  for (const auto& [name, child] : module.children())
    if (child) collect_norm_parameters(*child, prefix + name + ".", out);
}
}  // namespace

std::vector<std::string> no_decay_parameter_names(const Module& model) {
  std::set<std::string> norm_params;
  collect_norm_parameters(model, "", norm_params);
  std::vector<std::string> out;
  for (const auto& [name, tensor] : model.named_parameters())
    if (tensor.dim() <= 1 || norm_params.count(name)) out.push_back(name);
  return out;
}

}  // namespace cnn
