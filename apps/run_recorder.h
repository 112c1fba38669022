// Everything a run writes about itself goes through one RunRecorder: each record goes to the
// run store (the source of truth, which `cnnlab report` reads; written by a thread of its own,
// apps/store_writer.h, so training never waits on it) and to the run directory's
// exports, metrics.csv, epochs.csv and layer_stats.csv, from the same record; the end of the
// run writes summary.json and the store's run row.
//
//   RunRecorder recorder({.run_dir = dir, .store = "runs/runs.db", .name = "vgg6", ...});
//   recorder.on_step({epoch, step, lr, loss, accuracy});
//   recorder.on_epoch(record);
//   recorder.on_finish(result);           // or recorder.on_failure(result, error, ...)
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/run_files.h"
#include "apps/run_records.h"
#include "apps/store_writer.h"

namespace cnn {

// What a run ends with: its outcome and the figures summary.json holds.
struct TrainResult {
  std::string run_dir;
  std::string status;  // completed | diverged | interrupted | failed
  bool diverged = false;
  int64_t diverged_step = -1;
  std::string diverged_reason;
  // The network ended collapsed (one predicted class, or chance accuracy) since this step.
  bool collapsed = false;
  int64_t collapsed_step = -1;
  std::string collapse_reason;
  double final_test_acc = 0, best_test_acc = 0, train_images_per_s = 0, mean_step_seconds = 0;
  int64_t parameter_count = 0;
  int64_t steps = 0;
  int64_t world_size = 1;  // processes of a data-parallel run
  std::vector<EpochRecord> epochs;
};

struct RecorderOptions {
  std::string run_dir;
  std::string store;  // the run store's URL (apps/store_url.h): an SQLite path or mysql://...
  bool store_optional = false;  // an unreachable store at start: a warning, records spooled
  std::string name, config_yaml;
  std::string experiment, variant;  // compare's experiment and variant
  int64_t world_size = 1;
  bool layer_stats = false;  // keep layer_stats.csv
  // A resumed run: its row in the store (-1: none was kept, start a new row) and where it
  // resumes; every record from there on is dropped from the store and the exports.
  bool resuming = false;
  int64_t run_id = -1;
  int64_t resume_step = 0;   // the first step logged anew
  int64_t resume_epoch = 1;  // the first epoch (1-based) logged anew
};

class RunRecorder {
 public:
  explicit RunRecorder(const RecorderOptions& options);

  int64_t run_id() const { return run_id_; }
  // The epochs finished before the resume point (empty for a new run).
  const std::vector<EpochRecord>& earlier_epochs() const { return earlier_epochs_; }

  void on_step(const StepRow& step);  // metrics.csv at once, the store every 200 steps or 1 s
  void on_layer_stats(const std::vector<LayerStatRow>& rows);
  void on_epoch(const EpochRecord& epoch);  // the epoch's pending steps first
  void flush_steps();
  // A checkpoint file written in the run directory (its name there) holding `step`.
  void on_checkpoint(const std::string& file, int64_t step);
  // summary.json and the run's row; the result's status says how it ended.
  void on_finish(const TrainResult& result);
  // A run ending in an exception: as much as the disk still allows (pending steps,
  // summary.json with the error, the row's status "failed"); every failure to record goes to
  // `log_error`, nothing throws.
  void on_failure(TrainResult result, const std::string& error,
                  const std::function<void(const std::string&)>& log_error) noexcept;

 private:
  std::string summary_json(const TrainResult& result, const std::string& error) const;
  void start_run(const RecorderOptions& options);
  void submit(StoreBatch batch);
  void close_store();

  std::string name_, run_dir_, store_location_;
  StoreWriter store_;
  int64_t run_id_ = -1;
  std::vector<EpochRecord> earlier_epochs_;
  CsvWriter metrics_, epochs_, layer_stats_;
  std::vector<StepRow> pending_steps_;
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
};

}  // namespace cnn
