// An experiment file: a base config and its variants, listed or as a grid.
//   name: bn_vs_plain
//   base: ../models/vgg6.yaml          # relative to the experiment file
//   set: {train.epochs: 3}             # applied to every variant
//   variants:
//     - {name: bn,    set: {model.norm: batch}}
//     - {name: plain, set: {model.norm: none}}
//   # or: grid: {model.norm: [batch, none], optim.lr: [0.01, 0.05]}
//   seeds: [0, 1, 2]                   # optional: every variant once per seed (<name>-seed<k>)
// Every variant's config is resolved and fully validated before the first one runs.
#pragma once

#include <string>
#include <vector>

#include "apps/config.h"

namespace cnn {

struct Variant {
  std::string name;   // with seeds: "<group>-seed<k>"
  std::string group;  // the variant it is a seed of (its name when the file lists no seeds)
  Config config;
  std::vector<std::pair<std::string, std::string>> settings;  // what this variant changed
};

struct Experiment {
  std::string name;
  std::string source_path;
  std::vector<Variant> variants;
};

// `overrides` (--set on the command line) apply to every variant, after the file's own.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});

// Checks that a variant can run: data, model, optimizer and schedule sections all build.
void validate_runnable(const Config& config, const std::string& where);

}  // namespace cnn
