// `cnnlab study configs/study/ [FILE.yaml ...]`: the batch-norm study. Each file is an
// experiment (apps/experiment.h) with a `claim:` block saying what it tests:
//   claim:
//     title: BN converges faster
//     statement: with BN, vgg6 reaches the accuracy threshold in fewer epochs
//     measure: epochs_to_threshold   # final_test_acc | best_test_acc | train_test_gap |
//     step_seconds better: lower                  # or higher why: |                         # the
//     explanation the page gives beside the verdict
//       ...
// Every experiment runs as `cnnlab compare` would, into OUT/<experiment>, reusing the variants
// an earlier study finished and resuming the interrupted one (so a stopped study continues),
// then writes RESULTS/<experiment>.md: the verdict from the seed spread, the seed table, the
// plots, the explanation and the experiment file; and RESULTS/README.md, the index of claims.
#pragma once

#include <string>
#include <vector>

namespace cnn {

struct StudyOptions {
  std::string out_dir = "runs/study";
  std::string results_dir = "docs/results";
  std::vector<std::string> overrides;  // --set, applied to every variant of every experiment
  std::string store;                   // --store URL and --store-optional, as compare's
  bool store_optional = false;
  bool quiet = false;
};

// `paths`: experiment files and folders of them (their *.yaml, by name). Returns the number
// of claims written.
int run_study(const std::vector<std::string>& paths, const StudyOptions& options);

}  // namespace cnn
