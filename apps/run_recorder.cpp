// The run recorder (see run_recorder.h).
#include "apps/run_recorder.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

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
      store_(options.store) {
  const fs::path dir(options.run_dir);
  if (options.resuming && options.run_id >= 0 &&
      store_.reopen_run(options.run_id, options.run_dir, options.resume_step,
                        options.resume_epoch)) {
    run_id_ = options.run_id;
    earlier_epochs_ = store_.epochs(run_id_);
  } else {
    run_id_ = store_.begin_run(options.name, options.run_dir, options.config_yaml,
                               timestamp_iso());
    if (options.resuming) {
      // A state written before the run id was kept, or a store that does not have the run:
      // the new row starts with the epochs the export holds, so the store stays complete.
      spdlog::warn("the run store '{}' has no row for '{}': recording it as run {}, with its "
                   "earlier epochs from epochs.csv",
                   store_.database(), options.run_dir, run_id_);
      for (const EpochRecord& r : read_epochs_csv((dir / "epochs.csv").string()))
        if (r.epoch < options.resume_epoch) {
          earlier_epochs_.push_back(r);
          store_.log_epoch(run_id_, r);
        }
    }
  }
  const double keep_steps = options.resuming ? static_cast<double>(options.resume_step) : -1.0;
  metrics_ = CsvWriter((dir / "metrics.csv").string(), "epoch,step,lr,loss,accuracy", keep_steps,
                       /*key_column=*/1);
  epochs_ = CsvWriter((dir / "epochs.csv").string(), epochs_csv_header(),
                      options.resuming ? static_cast<double>(options.resume_epoch) : -1.0, 0);
  if (options.layer_stats)
    layer_stats_ = CsvWriter((dir / "layer_stats.csv").string(), "step,layer,kind,value",
                             keep_steps, 0);
}

void RunRecorder::on_step(const StepRow& step) {
  metrics_.row(step_csv_row(step));
  pending_steps_.push_back(step);
  if (pending_steps_.size() >= kStepsPerStoreWrite) flush_steps();
}

void RunRecorder::flush_steps() {
  store_.log_steps(run_id_, pending_steps_);
  pending_steps_.clear();
}

void RunRecorder::on_layer_stats(const std::vector<LayerStatRow>& rows) {
  for (const LayerStatRow& row : rows) layer_stats_.row(layer_stat_csv_row(row));
  store_.log_layer_stats(run_id_, rows);
}

void RunRecorder::on_epoch(const EpochRecord& epoch) {
  flush_steps();
  epochs_.row(epoch_csv_row(epoch));
  store_.log_epoch(run_id_, epoch);
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
  store_.finish_run(run_id_, result.status, json);
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
      store_.finish_run(run_id_, "failed", json);
    } catch (const std::exception& e) {
      log_error(std::string("could not record the failure in the run store: ") + e.what());
    }
  } catch (...) {
    // Out of memory while building a message: the original error still propagates.
  }
}

}  // namespace cnn
