// Weight-decay groups: decaying a normalization's scale or any bias only fights the
// normalization (the usual practice since Goyal et al. 2017, "Accurate, Large Minibatch SGD").
#include "optim/param_groups.h"

#include <set>

namespace cnn {

std::vector<ParamGroup> make_param_groups(const std::vector<NamedTensor>& parameters,
                                          const std::vector<std::string>& no_decay_names,
                                          double weight_decay, bool exclude_norm_and_bias) {
  if (!exclude_norm_and_bias) {
    ParamGroup all = all_parameters(parameters);
    all.weight_decay = weight_decay;
    return {all};
  }
  const std::set<std::string> spared(no_decay_names.begin(), no_decay_names.end());
  ParamGroup decay, no_decay;
  decay.label = "decay";
  decay.weight_decay = weight_decay;
  no_decay.label = "no_decay";
  no_decay.weight_decay = 0.0;
  for (const auto& [name, tensor] : parameters) {
    ParamGroup& group = spared.count(name) ? no_decay : decay;
    group.params.push_back(tensor);
    group.names.push_back(name);
  }
  std::vector<ParamGroup> out;
  if (!decay.params.empty()) out.push_back(std::move(decay));
  if (!no_decay.params.empty()) out.push_back(std::move(no_decay));
  return out;
}

}  // namespace cnn
