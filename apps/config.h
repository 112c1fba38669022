// A training config: the YAML file, `--set key=value` overrides, and the checks that
// run before any training starts. Sections: name, seed, data, model, optim, schedule,
// train. Each section's keys are validated by the part that reads them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "core/config_reader.h"

namespace cnn {

struct TrainSettings {
  int64_t epochs = 1;
  int64_t log_every = 50;            // steps between log lines when not on a terminal
  int64_t layer_stats_every = 0;     // 0 = off; else record activation/gradient stats
  std::string nan_check = "loss";    // loss | every_step
  double clip_grad_norm = 0.0;       // 0 = off
  double label_smoothing = 0.0;
  int64_t threads = 0;               // 0 = all cores
  std::string precision = "fp32";    // fp32 | bf16 (core/precision.h)
  int64_t checkpoint_every = 0;      // steps; 0 = at the end of each epoch only
  int64_t max_steps = 0;             // stop after this many steps in total; 0 = no limit
  double accuracy_threshold = 0.5;   // for "epochs to reach" in reports
  double divergence_factor = 10.0;   // diverged past this multiple of the first loss; 0 = off
  // Weights and BN statistics to start from (a checkpoint, best or state file cnnlab wrote, or
  // a run folder); "variant:NAME" in an experiment (apps/experiment.h). "" = the model's init.
  std::string init_from;
  std::string bn_mode = "update";  // update | freeze | reestimate (apps/bn_mode.h)
};

struct Config {
  YAML::Node root;  // the resolved document (after overrides)
  std::string name = "run";
  uint64_t seed = 0;
  TrainSettings train;
  std::string source_path;  // the file it came from ("" when built in code)
};

// Sets the dotted key `key` (a.b.c) of `root` to `value`, creating mappings on the way;
// with must_exist the key must already be in the document (a grid over a typo fails).
void set_dotted(YAML::Node& root, const std::string& key, const YAML::Node& value,
                bool must_exist, const std::string& where);
// Reads a dotted key (an undefined node when absent).
YAML::Node get_dotted(const YAML::Node& root, const std::string& key);

// Applies one "a.b.c=value" override to `root` (value parsed as YAML: 0.1, none, [1, 2]).
void apply_override(YAML::Node& root, const std::string& assignment);

// Parses and validates the top level and the train section; throws cnn::Error naming
// the key path. Sections data/model/optim/schedule are checked by their own builders.
Config config_from_yaml(const YAML::Node& document, const std::string& source);
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The train keys with their defaults (TrainSettings') and help, for listings and the README.
const std::vector<KeySpec>& train_keys();

std::string to_yaml_string(const YAML::Node& node);

}  // namespace cnn
