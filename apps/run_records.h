// The records of a run: one step, one epoch, one layer statistic, one run. The run store
// (apps/run_store.h) keeps them, the single source of truth `cnnlab report` reads; the CSV
// files of a run directory are exports of the same records (apps/run_recorder.h).
// Epochs are numbered from 1 everywhere they are written or read, as a user counts them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cnn {

struct StepRow {
  int64_t epoch = 0;  // 1-based
  int64_t step = 0;   // global optimizer step from 0, unique within a run
  double lr = 0, loss = 0, accuracy = 0;
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0;
  double test_loss = 0, test_acc = 0;  // NaN when there is no test set (stored as NULL)
  double seconds = 0;       // wall time of the epoch, evaluation included
  double images_per_s = 0;  // training images over the training loop's time (data waits too)
  double step_seconds = 0;  // mean time of one training step
};

struct LayerStatRow {
  int64_t step = 0;
  std::string layer;  // module path, e.g. "features.0"
  std::string kind;   // "activation_mean", "activation_std", "grad_norm", ...
  double value = 0;
};

struct RunRow {
  int64_t id = 0;  // application-generated, 63 bits; printed and accepted as decimal
  std::string name, run_dir, started_at;
  std::string experiment, variant;  // compare's experiment and variant ("" for a plain train)
  std::string host;                 // the machine that trained it
  int64_t world_size = 1;           // processes of a data-parallel run
  std::string finished_at;   // empty while running
  std::string status;        // running | completed | diverged | interrupted | failed
  std::string summary_json;  // empty while running
  std::string config_yaml;
};

// One per-step metric: "loss", "accuracy", "lr", ... NaN and +/-inf are kept (a marker column
// in the store, as MLflow's is_nan).
struct MetricRow {
  int64_t step = 0, epoch = 0;
  std::string key;
  double value = 0;
};

// A checkpoint file the run wrote: its path (relative to the run directory), the step it
// holds and the SHA-256 of its bytes (64 hex digits).
struct CheckpointRow {
  std::string path;
  int64_t step = 0;
  std::string sha256;
};

// Which runs RunStore::runs(filter) returns: every field optional, all given must hold.
struct RunFilter {
  std::string experiment, status;
  std::vector<std::pair<std::string, std::string>> params;  // flattened config key = value
};

// A read-only query's table, values as text.
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt = SQL NULL
};

}  // namespace cnn
