// `cnnlab report RUN_DIR...` (and the end of `cnnlab compare`): reads finished runs from the
// run store their summary.json names (the source of truth; the CSV files are exports) and writes report.md with a table per variant and gnuplot PNG plots:
// train loss and test accuracy per epoch on shared axes, per-step loss, and, when
// recorded, per-layer activation std and gradient norms over training.
#pragma once

#include <string>
#include <vector>

#include "apps/run_records.h"

namespace cnn {

struct RunReport {
  std::string name;          // variant name (the run directory's name)
  std::string run_dir;
  std::string norm;          // model.norm of its config
  std::string signature;     // its config without model.norm and name: runs equal but for BN
  // Runs of one variant that differ only by seed (an experiment's `seeds:`) share this: the
  // config without its seed. `variant` is the name without "-seed<k>".
  std::string seedless;
  std::string variant;
  std::string seedless_signature;  // signature without the seed: a variant's twin without norm
  double threshold = 0.5;    // train.accuracy_threshold
  std::vector<EpochRecord> epochs;
  std::vector<StepRow> steps;
  std::vector<LayerStatRow> layer_stats;  // empty unless train.layer_stats_every was set
  std::string status;
  bool diverged = false;
  int64_t diverged_step = -1;
  bool collapsed = false;
  int64_t collapsed_step = -1;
  double final_test_acc = 0, best_test_acc = 0, images_per_s = 0, step_seconds = 0;
  double final_train_acc = 0;
  // Filled by the report: the same model without normalization, if one was run.
  double overhead = 0;  // step time / baseline step time - 1
  bool has_baseline = false;
  int64_t epochs_to_threshold = -1;  // 1-based; -1 = never
};

// `store`: the run store to read (a URL, apps/store_url.h); "" = the one summary.json names.
RunReport read_run(const std::string& run_dir, const std::string& store = "");
// Reads several runs and pairs each normalized run with its `norm: none` twin (overhead).
std::vector<RunReport> read_runs(const std::vector<std::string>& run_dirs,
                                 const std::string& store = "");

// The table as GitHub markdown (also printed to the console by compare).
std::string comparison_table(const std::vector<RunReport>& runs);

// Writes out_dir/report.md and out_dir/plots/*.png (or a note when gnuplot is missing).
// Returns the report path.
std::string write_report(const std::vector<RunReport>& runs, const std::string& out_dir,
                         const std::string& title);

}  // namespace cnn
