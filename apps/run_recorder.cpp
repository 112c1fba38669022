// The run recorder (see run_recorder.h).
#include "apps/run_recorder.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/sha256.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

constexpr size_t kStepsPerStoreWrite = 200;

std::string step_csv_row(const StepRow& s) {
  char row[160];
  std::snprintf(row, sizeof(row), "%ld,%ld,%.6g,%.6g,%.6g", (long)s.epoch, (long)s.step, s.lr,
                s.loss, s.accuracy);
  return row;
}

std::string layer_stat_csv_row(const LayerStatRow& stat) {
  std::ostringstream line;
  line << stat.step << "," << stat.layer << "," << stat.kind << "," << stat.value;
  return line.str();
}

// A number for summary.json: NaN and inf become null.
nlohmann::json number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

// The store as summary.json names it for `cnnlab report`: an SQLite file's absolute path, or a
// server's URL without its password.
std::string stored_location(const std::string& url) {
  const StoreUrl parsed = parse_store_url(url);
  if (parsed.backend != StoreBackend::sqlite) return describe_store_url(parsed);
  return fs::absolute(parsed.sqlite_path).lexically_normal().string();
}

}  // namespace

RunRecorder::RunRecorder(const RecorderOptions& options)
    : name_(options.name),
      run_dir_(options.run_dir),
      store_location_(stored_location(options.store)),
      store_(options.store, (fs::path(options.run_dir) / kStoreSpoolFile).string(),
             options.store_optional) {
  const fs::path dir(options.run_dir);
  start_run(options);
  const double keep_steps = options.resuming ? static_cast<double>(options.resume_step) : -1.0;
  metrics_ = CsvWriter((dir / "metrics.csv").string(), "epoch,step,lr,loss,accuracy", keep_steps,
                       /*key_column=*/1);
  epochs_ = CsvWriter((dir / "epochs.csv").string(), epochs_csv_header(),
                      options.resuming ? static_cast<double>(options.resume_epoch) : -1.0, 0);
  if (options.layer_stats)
    layer_stats_ = CsvWriter((dir / "layer_stats.csv").string(), "step,layer,kind,value",
                             keep_steps, 0);
  store_.start();
}

// The run's row: the resumed one reopened, or a new one (synchronously while the store
// answers, so that a refusal stops the run before its first step; spooled when it does not).
void RunRecorder::start_run(const RecorderOptions& options) {
  RunStore* store = store_.store();
  store_.replay_spool();  // a spool an earlier attempt of this run left
  if (options.resuming && options.run_id >= 0 &&
      (store ? store->reopen_run(options.run_id, options.run_dir, options.resume_step,
                                 options.resume_epoch)
             : false)) {
    run_id_ = options.run_id;
    earlier_epochs_ = store->epochs(run_id_);
    return;
  }
  RunRow row;
  row.id = RunStore::new_run_id();
  row.name = options.name;
  row.run_dir = options.run_dir;
  row.experiment = options.experiment;
  row.variant = options.variant;
  row.config_yaml = options.config_yaml;
  row.world_size = options.world_size;
  row.started_at = timestamp_iso();
  run_id_ = row.id;
  StoreBatch begin;
  begin.run_id = run_id_;
  begin.begin = row;
  if (options.resuming) {
    // A state written before the run id was kept, or a store that does not have the run:
    // the new row starts with the epochs the export holds, so the store stays complete.
    spdlog::warn("the run store '{}' has no row for '{}': recording it as run {}, with its "
                 "earlier epochs from epochs.csv",
                 store_.description(), options.run_dir, run_id_);
    for (const EpochRecord& r : read_epochs_csv((fs::path(options.run_dir) / "epochs.csv").string()))
      if (r.epoch < options.resume_epoch) {
        earlier_epochs_.push_back(r);
        begin.epochs.push_back(r);
      }
  }
  if (store)
    store->write(begin);
  else
    submit(std::move(begin));
}

void RunRecorder::submit(StoreBatch batch) {
  batch.run_id = run_id_;
  store_.submit(std::move(batch));
}

void RunRecorder::on_step(const StepRow& step) {
  metrics_.row(step_csv_row(step));
  pending_steps_.push_back(step);
  // Every 200 steps, or each second for a live dashboard of a slow run.
  if (pending_steps_.size() >= kStepsPerStoreWrite ||
      std::chrono::steady_clock::now() - last_flush_ > std::chrono::seconds(1))
    flush_steps();
}

void RunRecorder::flush_steps() {
  last_flush_ = std::chrono::steady_clock::now();
  if (pending_steps_.empty()) return;
  StoreBatch batch;
  for (const StepRow& s : pending_steps_) {
    batch.metrics.push_back({s.step, s.epoch, "loss", s.loss});
    batch.metrics.push_back({s.step, s.epoch, "accuracy", s.accuracy});
    batch.metrics.push_back({s.step, s.epoch, "lr", s.lr});
  }
  pending_steps_.clear();
  submit(std::move(batch));
}

void RunRecorder::on_layer_stats(const std::vector<LayerStatRow>& rows) {
  for (const LayerStatRow& row : rows) layer_stats_.row(layer_stat_csv_row(row));
  if (rows.empty()) return;
  StoreBatch batch;
  batch.layer_stats = rows;
  submit(std::move(batch));
}

void RunRecorder::on_epoch(const EpochRecord& epoch) {
  flush_steps();
  epochs_.row(epoch_csv_row(epoch));
  StoreBatch batch;
  batch.epochs = {epoch};
  submit(std::move(batch));
}

void RunRecorder::on_checkpoint(const std::string& file, int64_t step) {
  StoreBatch batch;
  batch.checkpoints = {{file, step, sha256_file((fs::path(run_dir_) / file).string())}};
  submit(std::move(batch));
}

// Waits for the writer (CNNLAB_STORE_FLUSH_SECONDS, default 60, for a server that is away);
// what it still could not write stays in the spool for `cnnlab runs sync`.
void RunRecorder::close_store() {
  const char* seconds = std::getenv("CNNLAB_STORE_FLUSH_SECONDS");
  const size_t left = store_.close(std::chrono::seconds(seconds ? std::atoi(seconds) : 60));
  if (left > 0)
    spdlog::warn("the run store '{}' did not take {} batches of records; they are in '{}': "
                 "push them with `cnnlab runs sync {}`",
                 store_.description(), left, (fs::path(run_dir_) / kStoreSpoolFile).string(),
                 run_dir_);
}

std::string RunRecorder::summary_json(const TrainResult& result, const std::string& error) const {
  nlohmann::ordered_json summary{{"name", name_},
                                 {"status", result.status},
                                 {"run_dir", result.run_dir},
                                 {"final_test_acc", number(result.final_test_acc)},
                                 {"best_test_acc", number(result.best_test_acc)},
                                 {"train_images_per_s", number(result.train_images_per_s)},
                                 {"mean_step_seconds", number(result.mean_step_seconds)},
                                 {"diverged", result.diverged},
                                 {"diverged_step", result.diverged_step},
                                 {"diverged_reason", result.diverged_reason},
                                 {"collapsed", result.collapsed},
                                 {"collapsed_step", result.collapsed_step},
                                 {"collapse_reason", result.collapse_reason},
                                 {"epochs_completed", result.epochs.size()},
                                 {"steps", result.steps},
                                 {"parameter_count", result.parameter_count},
                                 {"world_size", result.world_size},
                                 {"store", store_location_},
                                 {"run_id", run_id_}};
  if (!result.epochs.empty()) {
    summary["final_train_acc"] = number(result.epochs.back().train_acc);
    summary["final_train_loss"] = number(result.epochs.back().train_loss);
    summary["final_test_loss"] = number(result.epochs.back().test_loss);
  }
  if (!error.empty()) summary["error"] = error;
  return json_text(summary);
}

void RunRecorder::on_finish(const TrainResult& result) {
  flush_steps();
  const std::string json = summary_json(result, "");
  write_text_file_atomically((fs::path(run_dir_) / "summary.json").string(), json);
  StoreBatch batch;
  batch.finish = RunFinish{result.status, json, timestamp_iso()};
  submit(std::move(batch));
  close_store();
}

void RunRecorder::on_failure(TrainResult result, const std::string& error,
                             const std::function<void(const std::string&)>& log_error) noexcept {
  try {
    result.status = "failed";
    std::string json;
    try {
      json = summary_json(result, error);
      write_text_file_atomically((fs::path(run_dir_) / "summary.json").string(), json);
    } catch (const std::exception& e) {
      log_error(std::string("could not record the failure in summary.json: ") + e.what());
    }
    // The steps since the last flush first, then the status: each may fail on its own (a
    // full disk can refuse the steps' new pages and still take the one-row update).
    try {
      flush_steps();
    } catch (const std::exception& e) {
      log_error(std::string("could not record the last steps in the run store: ") + e.what());
    }
    try {
      StoreBatch batch;
      batch.finish = RunFinish{"failed", json, timestamp_iso()};
      submit(std::move(batch));
      close_store();
    } catch (const std::exception& e) {
      log_error(std::string("could not record the failure in the run store: ") + e.what());
    }
  } catch (...) {
    // Out of memory while building a message: the original error still propagates.
  }
}

}  // namespace cnn
