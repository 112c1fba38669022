// RunStore over SOCI. SQLite is linked in; other backends load at run time from the connection
// string's "backend://" prefix. The SQL is kept to what SQLite and MySQL share, except the
// auto-increment key, and "replace" is a DELETE then INSERT in one transaction for the same reason.
#include "apps/run_store.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <regex>
#include <thread>

#include "core/error.h"

namespace cnn {
namespace {

constexpr int kBusyTimeoutSeconds = 30;

struct Connection {
  std::string backend;      // "sqlite3", "mysql", ...
  std::string parameters;   // what the SOCI backend parses
  std::string database;     // what error messages name
  std::string sqlite_path;  // SQLite only: the file
};

// Reads `key=value` out of SOCI's space-separated parameters ("" when absent).
std::string parameter(const std::string& parameters, const std::string& key) {
  std::smatch match;
  std::regex pattern("(^|\\s)" + key + "=(\"[^\"]*\"|\\S*)");
  if (!std::regex_search(parameters, match, pattern)) return "";
  std::string value = match[2];
  if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
  return value;
}

Connection parse_connection(const std::string& connection) {
  CNN_CHECK(!connection.empty(),
            "run database: the connection string is empty; give a file "
            "path such as runs/runs.db");
  Connection parsed;
  size_t scheme = connection.find("://");
  std::string rest = scheme == std::string::npos ? connection : connection.substr(scheme + 3);
  parsed.backend = scheme == std::string::npos ? "sqlite3" : connection.substr(0, scheme);
  if (parsed.backend == "sqlite") parsed.backend = "sqlite3";
  if (parsed.backend != "sqlite3") {
    parsed.parameters = rest;
    // Never print a password in an error message.
    parsed.database =
        parsed.backend + "://" +
        std::regex_replace(rest, std::regex("password=(\"[^\"]*\"|\\S*)"), "password=***");
    return parsed;
  }
  if (rest.find('=') == std::string::npos) {  // a bare path
    parsed.sqlite_path = rest;
    CNN_CHECK(rest.find('"') == std::string::npos, "run database '", rest,
              "': a path with '\"' in it is not supported");
    std::string quoted = rest.find(' ') == std::string::npos ? rest : "\"" + rest + "\"";
    parsed.parameters = "db=" + quoted + " timeout=" + std::to_string(kBusyTimeoutSeconds);
  } else {
    parsed.parameters = rest;
    parsed.sqlite_path = parameter(rest, "db");
    if (parsed.sqlite_path.empty()) parsed.sqlite_path = parameter(rest, "dbname");
    CNN_CHECK(!parsed.sqlite_path.empty(), "run database '", connection,
              "': the SQLite connection string names no database; write db=PATH");
    if (parameter(rest, "timeout").empty())
      parsed.parameters += " timeout=" + std::to_string(kBusyTimeoutSeconds);
  }
  parsed.database = parsed.sqlite_path;
  return parsed;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// NaN is stored as NULL (SQLite does so itself; MySQL refuses NaN), and NULL reads back as NaN.
soci::indicator null_if_nan(double value) { return std::isnan(value) ? soci::i_null : soci::i_ok; }
double nan_if_null(double value, soci::indicator indicator) {
  return indicator == soci::i_ok ? value : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

// Runs `body`, turning database errors into cnn::Error sentences that name the database.
template <typename Body>
auto RunStore::guarded(const char* action, Body&& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    return body();
  } catch (const soci::soci_error& error) {
    CNN_FAIL("run database '", database_, "': ", action, " failed: ", error.what());
  }
}

RunStore::RunStore(const std::string& connection) {
  Connection parsed = parse_connection(connection);
  database_ = parsed.database;
  sqlite_ = parsed.backend == "sqlite3";
  if (sqlite_ && parsed.sqlite_path != ":memory:") {
    std::filesystem::path folder = std::filesystem::path(parsed.sqlite_path).parent_path();
    std::error_code error;
    if (!folder.empty() && !std::filesystem::is_directory(folder, error)) {
      std::filesystem::create_directories(folder, error);
      if (error)
        CNN_FAIL("run database '", database_, "': cannot create its folder '", folder.string(),
                 "': ", error.message());
    }
  }
  guarded("opening", [&] {
    sql_ = sqlite_ ? std::make_unique<soci::session>(soci::sqlite3, parsed.parameters)
                   : std::make_unique<soci::session>(parsed.backend, parsed.parameters);
    return 0;
  });
  guarded("creating the schema", [&] {
    create_schema();
    return 0;
  });
}

RunStore::~RunStore() = default;

void RunStore::begin_write() {
  if (sqlite_)
    *sql_ << "BEGIN IMMEDIATE";
  else
    sql_->begin();
}

void RunStore::commit() {
  if (sqlite_)
    *sql_ << "COMMIT";
  else
    sql_->commit();
}

void RunStore::rollback() noexcept {
  try {
    if (sqlite_)
      *sql_ << "ROLLBACK";
    else
      sql_->rollback();
  } catch (...) {
    // The original error is the one worth reporting.
  }
}

void RunStore::create_schema() {
  soci::session& sql = *sql_;
  if (sqlite_) {
    // WAL lets readers and one writer proceed together; writers queue on the busy timeout.
    // synchronous=NORMAL is durable across process crashes in WAL mode, without an fsync per step.
    sql << "PRAGMA busy_timeout=" << kBusyTimeoutSeconds * 1000;
    // Switching a new file to WAL needs it to itself, and SQLite answers "locked" at once,
    // without waiting on the busy timeout, while another process is creating it: retry.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kBusyTimeoutSeconds);
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
  const char* id_column =
      sqlite_ ? "id INTEGER PRIMARY KEY AUTOINCREMENT" : "id BIGINT PRIMARY KEY AUTO_INCREMENT";
  begin_write();
  try {
    sql << "CREATE TABLE IF NOT EXISTS runs (" << id_column
        << ", name VARCHAR(255) NOT NULL, run_dir VARCHAR(1024) NOT NULL,"
           " started_at VARCHAR(64) NOT NULL, finished_at VARCHAR(64),"
           " status VARCHAR(32) NOT NULL, summary_json TEXT)";
    sql << "CREATE TABLE IF NOT EXISTS configs (run_id BIGINT PRIMARY KEY REFERENCES runs(id),"
           " yaml TEXT NOT NULL)";
    sql << "CREATE TABLE IF NOT EXISTS step_metrics (run_id BIGINT NOT NULL REFERENCES runs(id),"
           " epoch BIGINT NOT NULL, step BIGINT NOT NULL, lr DOUBLE, loss DOUBLE,"
           " accuracy DOUBLE, PRIMARY KEY (run_id, step))";
    sql << "CREATE TABLE IF NOT EXISTS epoch_metrics (run_id BIGINT NOT NULL REFERENCES runs(id),"
           " epoch BIGINT NOT NULL, train_loss DOUBLE, train_acc DOUBLE, test_loss DOUBLE,"
           " test_acc DOUBLE, seconds DOUBLE, images_per_s DOUBLE, step_seconds DOUBLE,"
           " PRIMARY KEY (run_id, epoch))";
    sql << "CREATE TABLE IF NOT EXISTS layer_stats (run_id BIGINT NOT NULL REFERENCES runs(id),"
           " step BIGINT NOT NULL, layer VARCHAR(255) NOT NULL, kind VARCHAR(64) NOT NULL,"
           " value DOUBLE, PRIMARY KEY (run_id, step, layer, kind))";
    commit();
  } catch (...) {
    rollback();
    throw;
  }
  add_missing_columns();
}

// A database written before epoch_metrics had step_seconds gains the column (NULL for the
// epochs already there): SQLite and MySQL share ALTER TABLE ... ADD COLUMN, not a way to ask
// whether a column exists, so a failed SELECT of it is the test.
void RunStore::add_missing_columns() {
  try {
    *sql_ << "SELECT step_seconds FROM epoch_metrics WHERE 1 = 0";
  } catch (const soci::soci_error&) {
    *sql_ << "ALTER TABLE epoch_metrics ADD COLUMN step_seconds DOUBLE";
  }
}

int64_t RunStore::begin_run(const std::string& name, const std::string& run_dir,
                            const std::string& config_yaml, const std::string& started_at) {
  return guarded("begin_run", [&]() -> int64_t {
    soci::session& sql = *sql_;
    begin_write();
    try {
      std::string status = "running";
      sql << "INSERT INTO runs (name, run_dir, started_at, status) VALUES (:n, :d, :s, :st)",
          soci::use(name), soci::use(run_dir), soci::use(started_at), soci::use(status);
      long long id = 0;
      if (!sql.get_last_insert_id("runs", id))
        throw soci::soci_error("the backend cannot report the new run's id");
      sql << "INSERT INTO configs (run_id, yaml) VALUES (:r, :y)", soci::use(id),
          soci::use(config_yaml);
      commit();
      return id;
    } catch (...) {
      rollback();
      throw;
    }
  });
}

void RunStore::log_step(int64_t run_id, int64_t epoch, int64_t step, double lr, double loss,
                        double accuracy) {
  log_steps(run_id, {StepRow{epoch, step, lr, loss, accuracy}});
}

void RunStore::log_steps(int64_t run_id, const std::vector<StepRow>& rows) {
  if (rows.empty()) return;
  guarded("log_steps", [&] {
    soci::session& sql = *sql_;
    long long run = run_id, epoch = 0, step = 0;
    double lr = 0, loss = 0, accuracy = 0;
    soci::indicator lr_ok, loss_ok, accuracy_ok;
    begin_write();
    try {
      soci::statement remove =
          (sql.prepare << "DELETE FROM step_metrics WHERE run_id = :r AND step = :s",
           soci::use(run), soci::use(step));
      soci::statement insert =
          (sql.prepare << "INSERT INTO step_metrics (run_id, epoch, step, lr, loss, accuracy)"
                          " VALUES (:r, :e, :s, :lr, :loss, :acc)",
           soci::use(run), soci::use(epoch), soci::use(step), soci::use(lr, lr_ok),
           soci::use(loss, loss_ok), soci::use(accuracy, accuracy_ok));
      for (const StepRow& row : rows) {
        epoch = row.epoch;
        step = row.step;
        lr = row.lr;
        loss = row.loss;
        accuracy = row.accuracy;
        lr_ok = null_if_nan(lr);
        loss_ok = null_if_nan(loss);
        accuracy_ok = null_if_nan(accuracy);
        remove.execute(true);
        insert.execute(true);
      }
      commit();
    } catch (...) {
      rollback();
      throw;
    }
    return 0;
  });
}

void RunStore::log_epoch(int64_t run_id, const EpochRecord& record) {
  guarded("log_epoch", [&] {
    soci::session& sql = *sql_;
    long long run = run_id, epoch = record.epoch;
    double values[7] = {record.train_loss, record.train_acc,    record.test_loss,
                        record.test_acc,   record.seconds,      record.images_per_s,
                        record.step_seconds};
    soci::indicator ok[7];
    for (int i = 0; i < 7; ++i) ok[i] = null_if_nan(values[i]);
    begin_write();
    try {
      sql << "DELETE FROM epoch_metrics WHERE run_id = :r AND epoch = :e", soci::use(run),
          soci::use(epoch);
      sql << "INSERT INTO epoch_metrics (run_id, epoch, train_loss, train_acc, test_loss,"
             " test_acc, seconds, images_per_s, step_seconds)"
             " VALUES (:r, :e, :a, :b, :c, :d, :f, :g, :h)",
          soci::use(run), soci::use(epoch), soci::use(values[0], ok[0]),
          soci::use(values[1], ok[1]), soci::use(values[2], ok[2]), soci::use(values[3], ok[3]),
          soci::use(values[4], ok[4]), soci::use(values[5], ok[5]), soci::use(values[6], ok[6]);
      commit();
    } catch (...) {
      rollback();
      throw;
    }
    return 0;
  });
}

void RunStore::log_layer_stat(int64_t run_id, int64_t step, const std::string& layer,
                              const std::string& kind, double value) {
  log_layer_stats(run_id, {LayerStatRow{step, layer, kind, value}});
}

void RunStore::log_layer_stats(int64_t run_id, const std::vector<LayerStatRow>& rows) {
  if (rows.empty()) return;
  guarded("log_layer_stats", [&] {
    soci::session& sql = *sql_;
    long long run = run_id, step = 0;
    std::string layer, kind;
    double value = 0;
    soci::indicator value_ok;
    begin_write();
    try {
      soci::statement remove =
          (sql.prepare << "DELETE FROM layer_stats WHERE run_id = :r AND step = :s AND"
                          " layer = :l AND kind = :k",
           soci::use(run), soci::use(step), soci::use(layer), soci::use(kind));
      soci::statement insert =
          (sql.prepare << "INSERT INTO layer_stats (run_id, step, layer, kind, value)"
                          " VALUES (:r, :s, :l, :k, :v)",
           soci::use(run), soci::use(step), soci::use(layer), soci::use(kind),
           soci::use(value, value_ok));
      for (const LayerStatRow& row : rows) {
        step = row.step;
        layer = row.layer;
        kind = row.kind;
        value = row.value;
        value_ok = null_if_nan(value);
        remove.execute(true);
        insert.execute(true);
      }
      commit();
    } catch (...) {
      rollback();
      throw;
    }
    return 0;
  });
}

bool RunStore::reopen_run(int64_t run_id, const std::string& run_dir, int64_t first_step,
                          int64_t first_epoch) {
  return guarded("reopen_run", [&] {
    soci::session& sql = *sql_;
    long long run = run_id, step = first_step, epoch = first_epoch;
    std::string status = "running";
    begin_write();
    try {
      soci::statement update =
          (sql.prepare << "UPDATE runs SET status = :st, finished_at = NULL, summary_json = NULL"
                          " WHERE id = :r AND run_dir = :d",
           soci::use(status), soci::use(run), soci::use(run_dir));
      update.execute(true);
      const bool found = update.get_affected_rows() == 1;
      if (found) {
        sql << "DELETE FROM step_metrics WHERE run_id = :r AND step >= :s", soci::use(run),
            soci::use(step);
        sql << "DELETE FROM layer_stats WHERE run_id = :r AND step >= :s", soci::use(run),
            soci::use(step);
        sql << "DELETE FROM epoch_metrics WHERE run_id = :r AND epoch >= :e", soci::use(run),
            soci::use(epoch);
      }
      commit();
      return found;
    } catch (...) {
      rollback();
      throw;
    }
  });
}

void RunStore::finish_run(int64_t run_id, const std::string& status,
                          const std::string& summary_json) {
  CNN_CHECK(status == "completed" || status == "diverged" || status == "interrupted" ||
                status == "failed",
            "run database '", database_,
            "': finish_run status must be completed, diverged, "
            "interrupted or failed, not '",
            status, "'");
  guarded("finish_run", [&] {
    long long run = run_id;
    std::string finished_at = utc_now();
    soci::statement update =
        (sql_->prepare << "UPDATE runs SET status = :st, finished_at = :f, summary_json = :j"
                          " WHERE id = :r",
         soci::use(status), soci::use(finished_at), soci::use(summary_json), soci::use(run));
    update.execute(true);
    CNN_CHECK(update.get_affected_rows() == 1, "run database '", database_,
              "': finish_run: there is no run with id ", run_id);
    return 0;
  });
}

std::vector<RunRow> RunStore::runs() {
  return guarded("reading runs", [&] {
    std::vector<RunRow> rows;
    RunRow row;
    long long id = 0;
    std::string finished_at, summary, yaml;
    soci::indicator finished_ok, summary_ok, yaml_ok;
    soci::statement select =
        (sql_->prepare << "SELECT r.id, r.name, r.run_dir, r.started_at, r.finished_at,"
                          " r.status, r.summary_json, c.yaml FROM runs r"
                          " LEFT JOIN configs c ON c.run_id = r.id ORDER BY r.id",
         soci::into(id), soci::into(row.name), soci::into(row.run_dir), soci::into(row.started_at),
         soci::into(finished_at, finished_ok), soci::into(row.status),
         soci::into(summary, summary_ok), soci::into(yaml, yaml_ok));
    select.execute();
    while (select.fetch()) {
      row.id = id;
      row.finished_at = finished_ok == soci::i_ok ? finished_at : "";
      row.summary_json = summary_ok == soci::i_ok ? summary : "";
      row.config_yaml = yaml_ok == soci::i_ok ? yaml : "";
      rows.push_back(row);
    }
    return rows;
  });
}

std::optional<RunRow> RunStore::run(int64_t run_id) {
  for (const RunRow& row : runs())
    if (row.id == run_id) return row;
  return std::nullopt;
}

std::vector<StepRow> RunStore::steps(int64_t run_id) {
  return guarded("reading steps", [&] {
    std::vector<StepRow> rows;
    long long run = run_id, epoch = 0, step = 0;
    double lr = 0, loss = 0, accuracy = 0;
    soci::indicator lr_ok, loss_ok, accuracy_ok;
    soci::statement select =
        (sql_->prepare << "SELECT epoch, step, lr, loss, accuracy FROM step_metrics"
                          " WHERE run_id = :r ORDER BY step",
         soci::use(run), soci::into(epoch), soci::into(step), soci::into(lr, lr_ok),
         soci::into(loss, loss_ok), soci::into(accuracy, accuracy_ok));
    select.execute();
    while (select.fetch())
      rows.push_back(StepRow{epoch, step, nan_if_null(lr, lr_ok), nan_if_null(loss, loss_ok),
                             nan_if_null(accuracy, accuracy_ok)});
    return rows;
  });
}

std::vector<EpochRecord> RunStore::epochs(int64_t run_id) {
  return guarded("reading epochs", [&] {
    std::vector<EpochRecord> rows;
    long long run = run_id, epoch = 0;
    double values[7] = {};
    soci::indicator ok[7];
    soci::statement select =
        (sql_->prepare << "SELECT epoch, train_loss, train_acc, test_loss, test_acc, seconds,"
                          " images_per_s, step_seconds FROM epoch_metrics WHERE run_id = :r"
                          " ORDER BY epoch",
         soci::use(run), soci::into(epoch), soci::into(values[0], ok[0]),
         soci::into(values[1], ok[1]), soci::into(values[2], ok[2]), soci::into(values[3], ok[3]),
         soci::into(values[4], ok[4]), soci::into(values[5], ok[5]), soci::into(values[6], ok[6]));
    select.execute();
    while (select.fetch()) {
      double v[7];
      for (int i = 0; i < 7; ++i) v[i] = nan_if_null(values[i], ok[i]);
      rows.push_back(EpochRecord{epoch, v[0], v[1], v[2], v[3], v[4], v[5], v[6]});
    }
    return rows;
  });
}

std::vector<LayerStatRow> RunStore::layer_stats(int64_t run_id) {
  return guarded("reading layer_stats", [&] {
    std::vector<LayerStatRow> rows;
    long long run = run_id, step = 0;
    std::string layer, kind;
    double value = 0;
    soci::indicator value_ok;
    soci::statement select =
        (sql_->prepare << "SELECT step, layer, kind, value FROM layer_stats WHERE run_id = :r"
                          " ORDER BY step, layer, kind",
         soci::use(run), soci::into(step), soci::into(layer), soci::into(kind),
         soci::into(value, value_ok));
    select.execute();
    while (select.fetch())
      rows.push_back(LayerStatRow{step, layer, kind, nan_if_null(value, value_ok)});
    return rows;
  });
}

}  // namespace cnn
