// RunStore over SOCI. SQLite is linked in; the MySQL backend (libsoci_mysql) is loaded by SOCI
// at run time by name. Every statement is in store_schema.cpp.
#include "apps/run_store.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>

#include "apps/config_params.h"
#include "apps/run_store_guarded.h"
#include "apps/store_schema.h"
#include "apps/store_upsert.h"
#include "core/error.h"

namespace cnn {
namespace {

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

// MLflow's way with non-finite metrics: the value column NULL and a marker beside it.
SqlValue non_finite_marker(double value) {
  if (std::isnan(value)) return std::string("nan");
  if (std::isinf(value)) return std::string(value > 0 ? "+inf" : "-inf");
  return std::monostate{};
}

std::vector<MetricRow> step_metrics(const std::vector<StepRow>& steps) {
  std::vector<MetricRow> rows;
  rows.reserve(steps.size() * 3);
  for (const StepRow& s : steps) {
    rows.push_back({s.step, s.epoch, "loss", s.loss});
    rows.push_back({s.step, s.epoch, "accuracy", s.accuracy});
    rows.push_back({s.step, s.epoch, "lr", s.lr});
  }
  return rows;
}

}  // namespace

std::string RunStore::describe(const std::string& url) {
  return describe_store_url(parse_store_url(url));
}

int64_t RunStore::new_run_id() {
  static std::atomic<int64_t> last{0};
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  // 41 bits of milliseconds (to 2039... and on, below 2^62) then 20 random bits.
  int64_t id = (ms << 20) | static_cast<int64_t>(random() & 0xFFFFF);
  int64_t previous = last.load();
  while (true) {
    const int64_t next = id > previous ? id : previous + 1;
    if (last.compare_exchange_weak(previous, next)) return next;
  }
}

RunStore::RunStore(const std::string& url, Unchecked) : url_(parse_store_url(url)) {
  database_ = describe_store_url(url_);
  open_session();
}

RunStore::RunStore(const std::string& url) : RunStore(url, Unchecked{}) {
  guarded("opening the schema", [&] {
    int64_t version = schema_version();
    if (version == 0) version = create_schema();
    CNN_CHECK(version == kStoreSchemaVersion, "run database '", database_, "' has schema version ",
              version, " and this cnnlab reads version ", kStoreSchemaVersion,
              version < kStoreSchemaVersion ? "; upgrade it with `cnnlab runs migrate --store "
                                            : "; it was written by a newer cnnlab (`cnnlab runs "
                                              "migrate --store ",
              url_.backend == StoreBackend::sqlite ? "sqlite:" + url_.sqlite_path : database_,
              version < kStoreSchemaVersion ? "`" : "` cannot downgrade it)");
    return 0;
  });
}

RunStore::~RunStore() = default;

void RunStore::open_session() {
  if (url_.backend == StoreBackend::sqlite && url_.sqlite_path != ":memory:") {
    std::filesystem::path folder = std::filesystem::path(url_.sqlite_path).parent_path();
    std::error_code error;
    if (!folder.empty() && !std::filesystem::is_directory(folder, error)) {
      std::filesystem::create_directories(folder, error);
      if (error)
        CNN_FAIL("run database '", database_, "': cannot create its folder '", folder.string(),
                 "': ", error.message());
    }
  }
  guarded("opening", [&] {
    if (url_.backend == StoreBackend::sqlite) {
      sql_ = std::make_unique<soci::session>(soci::sqlite3, soci_parameters(url_));
      prepare_sqlite();
    } else {
      sql_ = std::make_unique<soci::session>("mysql", soci_parameters(url_));
    }
    return 0;
  });
}

// WAL lets readers and one writer proceed together; writers queue on the busy timeout.
// synchronous=NORMAL is durable across process crashes in WAL mode, without an fsync per step.
void RunStore::prepare_sqlite() {
  soci::session& sql = *sql_;
  sql << "PRAGMA busy_timeout=" << url_.sqlite_timeout_s * 1000;
  // Switching a new file to WAL needs it to itself, and SQLite answers "locked" at once,
  // without waiting on the busy timeout, while another process is creating it: retry.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(url_.sqlite_timeout_s);
  for (int attempt = 0;; ++attempt) {
    try {
      std::string mode;
      sql << "PRAGMA journal_mode=WAL", soci::into(mode);
      break;
    } catch (const soci::sqlite3_soci_error& error) {
      bool busy = error.result() == SQLITE_BUSY || error.result() == SQLITE_LOCKED;
      if (!busy || std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 5)));
    }
  }
  sql << "PRAGMA synchronous=NORMAL";
}

void RunStore::begin_write() {
  if (url_.backend == StoreBackend::sqlite)
    *sql_ << "BEGIN IMMEDIATE";
  else
    sql_->begin();
}

void RunStore::commit() {
  if (url_.backend == StoreBackend::sqlite)
    *sql_ << "COMMIT";
  else
    sql_->commit();
}

void RunStore::rollback() noexcept {
  try {
    if (url_.backend == StoreBackend::sqlite)
      *sql_ << "ROLLBACK";
    else
      sql_->rollback();
  } catch (...) {
    // The original error is the one worth reporting.
  }
}

// A failed SELECT is the test for a table, as SQLite and MySQL share no catalogue query.
int64_t RunStore::schema_version() {
  try {
    long long version = 0;
    soci::indicator ok = soci::i_ok;
    *sql_ << statement("schema_version"), soci::into(version, ok);
    if (ok == soci::i_ok) return version;
  } catch (const soci::soci_error&) {
    try {
      *sql_ << statement("has_v1_runs");
      return 1;
    } catch (const soci::soci_error&) {
      return 0;
    }
  }
  return 0;  // the table is there and empty: a creation that was interrupted
}

// Creates the schema in an empty database; returns the version then found (another process
// may have created or even started migrating it meanwhile).
int64_t RunStore::create_schema() {
  // SQLite: under the write lock, checked again; MySQL commits each CREATE by itself.
  const bool sqlite = url_.backend == StoreBackend::sqlite;
  if (sqlite) begin_write();
  try {
    int64_t version = sqlite ? schema_version() : 0;
    if (version == 0) {
      for (const std::string& text : create_statements(url_.backend)) *sql_ << text;
      long long current = kStoreSchemaVersion, count = 0;
      *sql_ << statement("count_schema_version"), soci::into(count);
      if (count == 0) *sql_ << statement("insert_schema_version"), soci::use(current);
      version = kStoreSchemaVersion;
    }
    if (sqlite) commit();
    return version;
  } catch (...) {
    if (sqlite) rollback();
    if (!sqlite && schema_version() == kStoreSchemaVersion) return kStoreSchemaVersion;
    throw;
  }
}

int64_t RunStore::migrate(const std::string& url) {
  // Opening refuses the old version, so the migration opens a bare session of its own.
  RunStore store(url, Unchecked{});
  return store.guarded("migrating", [&] {
    const int64_t found = store.schema_version();
    if (found == 0) store.create_schema();
    CNN_CHECK(found <= kStoreSchemaVersion, "run database '", store.database_,
              "' has schema version ", found, ", newer than this cnnlab's ", kStoreSchemaVersion,
              "; use the cnnlab that wrote it");
    for (int64_t version = std::max<int64_t>(found, 1); version < kStoreSchemaVersion; ++version)
      store.migrate_in_place(version);
    return found;
  });
}

void RunStore::migrate_in_place(int64_t from) {
  // A version-1 file from before epoch_metrics had step_seconds gains it first.
  try {
    *sql_ << statement("has_v1_step_seconds");
  } catch (const soci::soci_error&) {
    *sql_ << statement("add_v1_step_seconds");
  }
  const bool sqlite = url_.backend == StoreBackend::sqlite;
  if (sqlite) begin_write();  // SQLite migrates atomically; MySQL's DDL commits as it goes
  try {
    for (const std::string& text : migration_statements(from, url_.backend)) *sql_ << text;
    if (!sqlite) begin_write();
    fill_params_from_configs();
    long long version = from + 1;
    *sql_ << statement("set_schema_version"), soci::use(version);
    long long count = 0;
    *sql_ << statement("count_schema_version"), soci::into(count);
    if (count == 0) *sql_ << statement("insert_schema_version"), soci::use(version);
    commit();
  } catch (...) {
    rollback();
    throw;
  }
}

void RunStore::fill_params_from_configs() {
  std::vector<SqlRow> rows;
  long long id = 0;
  std::string yaml;
  soci::indicator yaml_ok;
  soci::statement select =
      (sql_->prepare << statement("read_run_configs"), soci::into(id), soci::into(yaml, yaml_ok));
  select.execute();
  while (select.fetch())
    if (yaml_ok == soci::i_ok)
      for (const auto& [key, value] : flatten_config(yaml))
        rows.push_back({SqlValue(id), SqlValue(key), SqlValue(value)});
  upsert_rows(*sql_, params_table(), url_.backend, rows);
}

int64_t RunStore::begin_run(const std::string& name, const std::string& run_dir,
                            const std::string& config_yaml, const std::string& started_at) {
  RunRow row;
  row.id = new_run_id();
  row.name = name;
  row.run_dir = run_dir;
  row.config_yaml = config_yaml;
  row.started_at = started_at;
  begin_run(row);
  return row.id;
}

void RunStore::begin_run(const RunRow& row) {
  StoreBatch batch;
  batch.run_id = row.id;
  batch.begin = row;
  if (batch.begin->host.empty()) batch.begin->host = host_name();
  write(batch);
}

void RunStore::log_step(int64_t run_id, int64_t epoch, int64_t step, double lr, double loss,
                        double accuracy) {
  log_steps(run_id, {StepRow{epoch, step, lr, loss, accuracy}});
}

void RunStore::log_steps(int64_t run_id, const std::vector<StepRow>& steps) {
  if (steps.empty()) return;
  StoreBatch batch;
  batch.run_id = run_id;
  batch.metrics = step_metrics(steps);
  write(batch);
}

void RunStore::log_epoch(int64_t run_id, const EpochRecord& record) {
  StoreBatch batch;
  batch.run_id = run_id;
  batch.epochs = {record};
  write(batch);
}

void RunStore::log_layer_stat(int64_t run_id, int64_t step, const std::string& layer,
                              const std::string& kind, double value) {
  log_layer_stats(run_id, {LayerStatRow{step, layer, kind, value}});
}

void RunStore::log_layer_stats(int64_t run_id, const std::vector<LayerStatRow>& rows) {
  if (rows.empty()) return;
  StoreBatch batch;
  batch.run_id = run_id;
  batch.layer_stats = rows;
  write(batch);
}

void RunStore::write(const StoreBatch& batch) {
  if (batch.finish) {
    const std::string& status = batch.finish->status;
    CNN_CHECK(status == "completed" || status == "diverged" || status == "interrupted" ||
                  status == "failed",
              "run database '", database_,
              "': finish_run status must be completed, diverged, interrupted or failed, not '",
              status, "'");
  }
  guarded("writing", [&] {
    begin_write();
    try {
      write_rows(batch);
      commit();
    } catch (...) {
      rollback();
      throw;
    }
    return 0;
  });
}

// The batch's parts in the order a run produces them: begin, reopen, rows, finish.
void RunStore::write_rows(const StoreBatch& batch) {
  const long long run = batch.run_id;
  if (batch.begin) {
    const RunRow& r = *batch.begin;
    upsert_rows(*sql_, runs_table(), url_.backend,
                {{run, r.name, r.run_dir, r.experiment, r.variant, std::string("running"),
                  r.config_yaml, static_cast<long long>(r.world_size), r.host, r.started_at}});
    std::vector<SqlRow> params;
    for (const auto& [key, value] : flatten_config(r.config_yaml))
      params.push_back({run, key, value});
    upsert_rows(*sql_, params_table(), url_.backend, params);
  }
  if (batch.reopen) {
    bool found = false;
    reopen_rows(run, *batch.reopen, found);
  }
  std::vector<SqlRow> rows;
  for (const MetricRow& m : batch.metrics)
    rows.push_back({run, static_cast<long long>(m.step), static_cast<long long>(m.epoch), m.key,
                    finite_or_null(m.value), non_finite_marker(m.value)});
  upsert_rows(*sql_, metrics_table(), url_.backend, rows);
  rows.clear();
  for (const EpochRecord& e : batch.epochs)
    rows.push_back({run, static_cast<long long>(e.epoch), finite_or_null(e.train_loss),
                    finite_or_null(e.train_acc), finite_or_null(e.test_loss),
                    finite_or_null(e.test_acc), finite_or_null(e.seconds),
                    finite_or_null(e.images_per_s), finite_or_null(e.step_seconds)});
  upsert_rows(*sql_, epochs_table(), url_.backend, rows);
  rows.clear();
  for (const LayerStatRow& s : batch.layer_stats)
    rows.push_back({run, static_cast<long long>(s.step), s.layer, s.kind, finite_or_null(s.value)});
  upsert_rows(*sql_, layer_stats_table(), url_.backend, rows);
  rows.clear();
  for (const CheckpointRow& c : batch.checkpoints)
    rows.push_back({run, c.path, static_cast<long long>(c.step), c.sha256});
  upsert_rows(*sql_, checkpoints_table(), url_.backend, rows);
  if (batch.finish) {
    std::string status = batch.finish->status, json = batch.finish->summary_json,
                finished =
                    batch.finish->finished_at.empty() ? utc_now() : batch.finish->finished_at;
    long long id = run;
    soci::statement update = (sql_->prepare << statement("finish_run"), soci::use(status),
                              soci::use(finished), soci::use(json), soci::use(id));
    update.execute(true);
    // MySQL counts changed rows: a finish written again (a synced spool) changes none.
    long long count = 0;
    *sql_ << statement("run_exists"), soci::use(id), soci::into(count);
    CNN_CHECK(count == 1, "run database '", database_, "': finish_run: there is no run with id ",
              batch.run_id);
  }
}

void RunStore::reopen_rows(int64_t run_id, const RunReopen& reopen, bool& found) {
  long long run = run_id, step = reopen.first_step, epoch = reopen.first_epoch;
  std::string status = "running", run_dir = reopen.run_dir;
  long long count = 0;
  *sql_ << statement("run_exists"), soci::use(run), soci::into(count);
  found = count == 1;
  if (!found) return;
  soci::statement update = (sql_->prepare << statement("reopen_run"), soci::use(status),
                            soci::use(run), soci::use(run_dir));
  update.execute(true);
  *sql_ << statement("drop_metrics_from"), soci::use(run), soci::use(step);
  *sql_ << statement("drop_layer_stats_from"), soci::use(run), soci::use(step);
  *sql_ << statement("drop_epochs_from"), soci::use(run), soci::use(epoch);
}

bool RunStore::reopen_run(int64_t run_id, const std::string& run_dir, int64_t first_step,
                          int64_t first_epoch) {
  std::optional<RunRow> row = run(run_id);
  if (!row || row->run_dir != run_dir) return false;
  return guarded("reopen_run", [&] {
    bool found = false;
    begin_write();
    try {
      reopen_rows(run_id, RunReopen{run_dir, first_step, first_epoch}, found);
      commit();
    } catch (...) {
      rollback();
      throw;
    }
    return found;
  });
}

void RunStore::finish_run(int64_t run_id, const std::string& status,
                          const std::string& summary_json) {
  StoreBatch batch;
  batch.run_id = run_id;
  batch.finish = RunFinish{status, summary_json, utc_now()};
  write(batch);
}

}  // namespace cnn
