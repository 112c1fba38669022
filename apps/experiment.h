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
// Variants run in file order, so a variant can start from an earlier one's final weights:
//   - {name: finetune, set: {train.init_from: "variant:pretrain"}}   # same seed's checkpoint
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
  // train.init_from: variant:NAME, resolved to that run ("pretrain-seed0"); empty otherwise.
  std::string init_from_variant;
};

struct Experiment {
  std::string name;
  std::string source_path;
  std::vector<Variant> variants;
};

// `overrides` (--set on the command line) apply to every variant, after the file's own.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});

// The config a variant runs with in `out_dir`: train.init_from: variant:NAME becomes that
// variant's final checkpoint, OUT/<run>/checkpoint.safetensors (so its config.yaml names
// the file it started from).
Config resolved_config(const Variant& variant, const std::string& out_dir);

// Checks that a variant can run: data, model, optimizer and schedule sections all build.
void validate_runnable(const Config& config, const std::string& where);

}  // namespace cnn
