// The run database: one row per training run, its config, per-step and per-epoch metrics and
// per-layer statistics, through SOCI so that SQLite (the default) could be swapped for
// MySQL/TiDB by changing the connection string alone.
//
//   RunStore store("runs/runs.db");   // or "sqlite3://db=runs/runs.db timeout=30"
//   int64_t run = store.begin_run("cifar_bn", "runs/cifar_bn", yaml, "2024-05-01T10:00:00Z");
//   store.log_step(run, /*epoch*/ 1, /*step*/ 1, /*lr*/ 0.1, /*loss*/ 2.30, /*accuracy*/ 0.1);
//   store.finish_run(run, "completed", R"({"best_test_acc": 0.91})");
//
// Several processes may write to one SQLite file at once (WAL mode, 30 s busy timeout).
// One RunStore is one connection: use it from one thread at a time (calls are serialised by a
// mutex all the same); give each process or thread its own RunStore.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apps/run_records.h"

namespace soci {
class session;
}

namespace cnn {

class RunStore {
 public:
  // `connection`: a file path (SQLite), "sqlite3://db=PATH [timeout=SECONDS]", or another
  // SOCI backend's "backend://parameters" (loaded at run time, e.g. "mysql://db=runs host=...").
  // Creates the SQLite file, its folder and the schema when missing.
  explicit RunStore(const std::string& connection);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  // Inserts a run with status "running" and its config; returns its id.
  int64_t begin_run(const std::string& name, const std::string& run_dir,
                    const std::string& config_yaml, const std::string& started_at);

  // Logging a step, epoch or layer statistic again replaces the earlier row (a resumed run
  // re-logs the steps after its checkpoint). NaN values are stored as NULL and read back as NaN.
  void log_step(int64_t run_id, int64_t epoch, int64_t step, double lr, double loss,
                double accuracy);
  void log_steps(int64_t run_id, const std::vector<StepRow>& steps);  // one transaction
  void log_epoch(int64_t run_id, const EpochRecord& record);
  void log_layer_stat(int64_t run_id, int64_t step, const std::string& layer,
                      const std::string& kind, double value);
  void log_layer_stats(int64_t run_id, const std::vector<LayerStatRow>& rows);  // one transaction

  // A resumed run continues its own row: status "running" again, and every record from
  // `first_step` (steps, layer statistics) and `first_epoch` (epochs) on dropped, as the run
  // will log them anew. False when the store has no run `run_id` in `run_dir`.
  bool reopen_run(int64_t run_id, const std::string& run_dir, int64_t first_step,
                  int64_t first_epoch);

  // status: completed | diverged | interrupted | failed. Sets finished_at to the current UTC time.
  void finish_run(int64_t run_id, const std::string& status, const std::string& summary_json);

  std::vector<RunRow> runs();                             // by id
  std::optional<RunRow> run(int64_t run_id);
  std::vector<StepRow> steps(int64_t run_id);             // by step
  std::vector<EpochRecord> epochs(int64_t run_id);        // by epoch
  std::vector<LayerStatRow> layer_stats(int64_t run_id);  // by step, layer, kind

  // The database named in error messages: the SQLite path, or the connection (no password).
  const std::string& database() const { return database_; }

 private:
  template <typename Body>
  auto guarded(const char* action, Body&& body);
  void create_schema();
  void add_missing_columns();
  void begin_write();  // BEGIN IMMEDIATE on SQLite: take the write lock up front
  void commit();
  void rollback() noexcept;

  std::string database_;
  bool sqlite_ = true;
  std::unique_ptr<soci::session> sql_;
  std::mutex mutex_;
};

}  // namespace cnn
