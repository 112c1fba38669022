// Optimizers and schedules from the config's `optim:` and `schedule:` sections:
//   optim: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5e-4,
//           exclude_norm_and_bias: true}
//   schedule: {name: cosine, warmup_epochs: 2}
// Every key is checked before anything is built; errors name the key path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "core/tensor.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace cnn {

// The keys of each section, with defaults and help (for `cnnlab` to print and document).
const std::vector<KeySpec>& optimizer_keys();
const std::vector<KeySpec>& schedule_keys();

// `optim` is a mapping (or just a name: `optim: adam`). `parameters` are the model's named
// parameters; `no_decay_names` those that `exclude_norm_and_bias: true` spares from weight
// decay (layers/param_groups.h: no_decay_parameter_names). The groups come from
// make_param_groups. apps/model_setup.h: make_model_optimizer does this for a Module.
std::unique_ptr<Optimizer> make_optimizer(const YAML::Node& optim,
                                          const std::vector<NamedTensor>& parameters,
                                          const std::vector<std::string>& no_decay_names,
                                          const std::string& path = "optim");

// `schedule` is a mapping, a name (`schedule: cosine`) or absent/null (constant).
// base_lr is the optimizer's lr; epochs * steps_per_epoch is the run's length.
std::unique_ptr<Schedule> make_schedule(const YAML::Node& schedule, double base_lr,
                                        int64_t steps_per_epoch, int64_t epochs,
                                        const std::string& path = "schedule");

}  // namespace cnn
