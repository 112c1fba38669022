// The run database: one row per training run (its config as YAML and flattened into params),
// per-step metrics, epochs, per-layer statistics and checkpoints, through SOCI, in SQLite (the
// default, runs/runs.db) or a MySQL-protocol server (MySQL, MariaDB, TiDB); see
// apps/store_url.h for the URLs and apps/store_schema.h for every statement it issues.
//
//   RunStore store("runs/runs.db");   // or "mysql://cnnlab@db.example:4000/cnnlab"
//   int64_t run = store.begin_run("cifar_bn", "runs/cifar_bn", yaml, "2024-05-01T10:00:00Z");
//   store.log_step(run, /*epoch*/ 1, /*step*/ 1, /*lr*/ 0.1, /*loss*/ 2.30, /*accuracy*/ 0.1);
//   store.finish_run(run, "completed", R"({"best_test_acc": 0.91})");
//
// Several processes may write to one store at once (SQLite: WAL mode, 30 s busy timeout).
// One RunStore is one connection: calls are serialised by a mutex; training writes through
// apps/store_writer.h's thread, never on the training thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apps/run_records.h"
#include "apps/store_batch.h"
#include "apps/store_url.h"

namespace soci {
class session;
}

namespace cnn {

class RunStore {
 public:
  // Opens the store `url` names (store_url.h), creating the SQLite file, its folder and the
  // schema when missing. A store at another schema version is refused with the command
  // that upgrades it (`cnnlab runs migrate --store URL`).
  explicit RunStore(const std::string& url);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  // Upgrades the store to the current schema version; returns the version it found.
  static int64_t migrate(const std::string& url);
  // The URL as logged: password removed.
  static std::string describe(const std::string& url);
  // A new run id: 63 bits, time-ordered (milliseconds, then random bits), increasing within
  // a process; application-generated since TiDB's AUTO_INCREMENT gives no order.
  static int64_t new_run_id();

  // Inserts a run with status "running", its config and parameters; returns its id.
  int64_t begin_run(const std::string& name, const std::string& run_dir,
                    const std::string& config_yaml, const std::string& started_at);
  void begin_run(const RunRow& row);  // row.id set by the caller (new_run_id())

  // Logging a row again replaces the earlier one (a resumed run re-logs the steps after its
  // checkpoint, a synced spool re-sends what was written). NaN and inf are kept.
  void log_step(int64_t run_id, int64_t epoch, int64_t step, double lr, double loss,
                double accuracy);
  void log_steps(int64_t run_id, const std::vector<StepRow>& steps);  // one transaction
  void log_epoch(int64_t run_id, const EpochRecord& record);
  void log_layer_stat(int64_t run_id, int64_t step, const std::string& layer,
                      const std::string& kind, double value);
  void log_layer_stats(int64_t run_id, const std::vector<LayerStatRow>& rows);
  // Every part of `batch` in one transaction.
  void write(const StoreBatch& batch);

  // A resumed run continues its own row: status "running" again, and every record from
  // `first_step` (metrics, layer statistics) and `first_epoch` (epochs) on dropped, as the run
  // will log them anew. False when the store has no run `run_id` in `run_dir`.
  bool reopen_run(int64_t run_id, const std::string& run_dir, int64_t first_step,
                  int64_t first_epoch);

  // status: completed | diverged | interrupted | failed. Sets finished_at to the current UTC time.
  void finish_run(int64_t run_id, const std::string& status, const std::string& summary_json);

  std::vector<RunRow> runs();                         // by id
  std::vector<RunRow> runs(const RunFilter& filter);  // by id
  std::optional<RunRow> run(int64_t run_id);
  // "17" (an id) or "vgg6-20261201-1200" (the last part of a run directory).
  std::optional<RunRow> find_run(const std::string& id_or_dir_name);
  std::vector<std::pair<std::string, std::string>> parameters(int64_t run_id);  // by key
  // key "" = every key; steps after `after_step`; by step, key.
  std::vector<MetricRow> metrics(int64_t run_id, const std::string& key = "",
                                 int64_t after_step = -1);
  std::vector<StepRow> steps(int64_t run_id);              // loss, accuracy, lr by step
  std::vector<EpochRecord> epochs(int64_t run_id);         // by epoch
  std::vector<LayerStatRow> layer_stats(int64_t run_id);   // by step, layer, kind
  std::vector<CheckpointRow> checkpoints(int64_t run_id);  // by step, path
  // SELECT/WITH only (anything else refused with a sentence), in a read-only transaction.
  QueryResult query(const std::string& sql);

  // The database named in error messages: the SQLite path, or the URL without password.
  const std::string& database() const { return database_; }
  StoreBackend backend() const { return url_.backend; }

 private:
  struct Unchecked {};
  RunStore(const std::string& url, Unchecked);  // opened, no schema check (migrate)
  template <typename Body>
  auto guarded(const char* action, Body&& body);
  void open_session();
  void prepare_sqlite();
  int64_t schema_version();  // 0: an empty database; 1: before schema_version existed
  int64_t create_schema();
  void migrate_in_place(int64_t from);
  void fill_params_from_configs();
  void begin_write();  // BEGIN IMMEDIATE on SQLite: take the write lock up front
  void commit();
  void rollback() noexcept;
  void write_rows(const StoreBatch& batch);
  void reopen_rows(int64_t run_id, const RunReopen& reopen, bool& found);

  StoreUrl url_;
  std::string database_;
  std::unique_ptr<soci::session> sql_;
  std::mutex mutex_;
};

}  // namespace cnn
