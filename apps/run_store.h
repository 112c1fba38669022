// The run database: one row per training run, its config, per-step and per-epoch metrics and
// per-layer statistics, through SOCI so that SQLite (the default) could be swapped for
// MySQL/TiDB by changing the connection string alone.
//
//   RunStore store("runs/runs.db");   // or "sqlite3://db=runs/runs.db timeout=30"
//   int64_t run = store.begin_run("cifar_bn", "runs/cifar_bn", yaml, "2024-05-01T10:00:00Z");
//   store.log_step(run, /*epoch*/ 0, /*step*/ 1, /*lr*/ 0.1, /*loss*/ 2.30, /*accuracy*/ 0.1);
//   store.finish_run(run, "completed", R"({"best_test_acc": 0.91})");
//
// Several processes may write to one SQLite file at once (WAL mode, 30 s busy timeout).
// One RunStore is one connection: use it from one thread at a time (calls are serialised by a
// mutex all the same); give each process or thread its own RunStore.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace soci {
class session;
}

namespace cnn {

struct StepRow {
  int64_t epoch = 0;
  int64_t step = 0;  // global optimizer step, unique within a run
  double lr = 0, loss = 0, accuracy = 0;
};

struct EpochRow {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0;
  double test_loss = 0, test_acc = 0;  // NaN when there is no test set (stored as NULL)
  double seconds = 0, images_per_s = 0;
};
using EpochRowOut = EpochRow;

struct LayerStatRow {
  int64_t step = 0;
  std::string layer;  // module path, e.g. "features.0"
  std::string kind;   // "activation_mean", "activation_std", "grad_norm", ...
  double value = 0;
};

struct RunRow {
  int64_t id = 0;
  std::string name, run_dir, started_at;
  std::string finished_at;   // empty while running
  std::string status;        // running | completed | diverged | interrupted | failed
  std::string summary_json;  // empty while running
  std::string config_yaml;
};

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
  void log_epoch(int64_t run_id, const EpochRow& row);
  void log_layer_stat(int64_t run_id, int64_t step, const std::string& layer,
                      const std::string& kind, double value);
  void log_layer_stats(int64_t run_id, const std::vector<LayerStatRow>& rows);  // one transaction

  // status: completed | diverged | interrupted | failed. Sets finished_at to the current UTC time.
  void finish_run(int64_t run_id, const std::string& status, const std::string& summary_json);

  std::vector<RunRow> runs();                             // by id
  std::vector<StepRow> steps(int64_t run_id);             // by step
  std::vector<EpochRowOut> epochs(int64_t run_id);        // by epoch
  std::vector<LayerStatRow> layer_stats(int64_t run_id);  // by step, layer, kind

  // The database named in error messages: the SQLite path, or the connection (no password).
  const std::string& database() const { return database_; }

 private:
  template <typename Body>
  auto guarded(const char* action, Body&& body);
  void create_schema();
  void begin_write();  // BEGIN IMMEDIATE on SQLite: take the write lock up front
  void commit();
  void rollback() noexcept;

  std::string database_;
  bool sqlite_ = true;
  std::unique_ptr<soci::session> sql_;
  std::mutex mutex_;
};

}  // namespace cnn
