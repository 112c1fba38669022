// Splitting parameters into weight-decay groups. Which parameters weight decay spares is
// decided where modules are known (layers/param_groups.h: no_decay_parameter_names).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "optim/optimizer.h"

namespace cnn {

// Without exclusion: one group ("all") with every parameter and `weight_decay`.
// With exclusion: a "decay" group with `weight_decay` and a "no_decay" group (the parameters
// named in `no_decay_names`) with weight_decay 0. Empty groups are left out. lr stays unset,
// so the optimizer's lr applies.
std::vector<ParamGroup> make_param_groups(const std::vector<NamedTensor>& parameters,
                                          const std::vector<std::string>& no_decay_names,
                                          double weight_decay, bool exclude_norm_and_bias);

}  // namespace cnn
