// `cnnlab compare EXPERIMENT.yaml`: runs every variant of an experiment one after
// another (each a full training run in OUT/<variant>), then writes the report.
#pragma once

#include <string>
#include <vector>

namespace cnn {

struct CompareOptions {
  std::string out_dir;                 // "" = runs/<experiment name>-<timestamp>
  std::vector<std::string> overrides;  // --set, applied to every variant
  std::string store;                   // --store URL; "" = CNNLAB_STORE, else OUT/../runs.db
  bool store_optional = false;
  bool quiet = false;
  // Reuse what an earlier compare into the same out_dir left: a variant whose folder holds a
  // finished run of the same config is not trained again, an interrupted one is resumed
  // (`cnnlab study` runs its experiments this way, so a stopped study continues).
  bool reuse_finished = false;
};

// Returns the report's path. Prints the comparison table at the end.
std::string run_comparison(const std::string& experiment_path, const CompareOptions& options);

}  // namespace cnn
