// The training engine behind `cnnlab train`: validates the whole config, builds data,
// model, optimizer and schedule, runs the epochs, and keeps a run directory:
//   config.yaml  train.log  checkpoint.safetensors (latest weights, PyTorch names)
//   best.safetensors  state.safetensors (for --resume)  summary.json
//   metrics.csv  epochs.csv  layer_stats.csv (optional): exports of the run store's records
// and records the run in the run store: runs.db (SQLite) in the runs folder, or --store URL.
#pragma once

#include <string>

#include "apps/config.h"
#include "apps/run_recorder.h"
#include "apps/run_state.h"

namespace cnn {

struct TrainOptions {
  std::string out_dir;     // "" = runs/<name>-<timestamp>
  std::string init_from;   // safetensors weights to start from
  std::string resume_dir;  // continue this run where its last checkpoint left it
  bool quiet = false;      // no progress bar or per-epoch console lines
  // The run store's URL (apps/store_url.h): "" = CNNLAB_STORE, else runs.db in the run
  // directory's parent folder.
  std::string runs_db;
  bool store_optional = false;       // an unreachable store: a warning, the records spooled
  std::string experiment, variant;   // set by compare
};

// An exception during the epochs is rethrown unchanged after the run is recorded as "failed"
// (with the error) in summary.json and the run store, as far as the disk allows.
TrainResult train_run(const Config& config, const TrainOptions& options);

}  // namespace cnn
