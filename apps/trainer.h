// The training engine behind `cnnlab train`: validates the whole config, builds data,
// model, optimizer and schedule, runs the epochs, and keeps a run directory:
//   config.yaml  train.log  metrics.csv  epochs.csv  layer_stats.csv (optional)
//   checkpoint.safetensors (latest weights, PyTorch names)  best.safetensors
//   state.safetensors (weights + optimizer state + position, for --resume)  summary.json
// and records the run in runs.db (SQLite through SOCI) in the runs folder.
#pragma once

#include <string>
#include <vector>

#include "apps/config.h"
#include "apps/run_files.h"

namespace cnn {

struct TrainOptions {
  std::string out_dir;     // "" = runs/<name>-<timestamp>
  std::string init_from;   // safetensors weights to start from
  std::string resume_dir;  // continue this run where its last checkpoint left it
  bool quiet = false;      // no progress bar or per-epoch console lines
  std::string runs_db;     // "" = runs.db in the run directory's parent folder
};

struct TrainResult {
  std::string run_dir;
  std::string status;  // completed | diverged | interrupted
  bool diverged = false;
  int64_t diverged_step = -1;
  std::string diverged_reason;
  double final_test_acc = 0, best_test_acc = 0, train_images_per_s = 0, mean_step_seconds = 0;
  int64_t parameter_count = 0;
  std::vector<EpochRecord> epochs;
};

// An exception during the epochs is rethrown unchanged after the run is recorded as "failed"
// (with the error) in summary.json and runs.db, as far as the disk allows.
TrainResult train_run(const Config& config, const TrainOptions& options);

// The checkpoint file names inside a run directory.
inline const char* kCheckpointFile = "checkpoint.safetensors";
inline const char* kBestFile = "best.safetensors";
inline const char* kStateFile = "state.safetensors";

}  // namespace cnn
