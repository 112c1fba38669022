// RunStore's reads: runs (filtered), parameters, metrics, epochs, layer statistics,
// checkpoints, and read-only queries (the `cnnlab runs` and `cnnlab serve` side).
#include <soci/soci.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "apps/run_store.h"
#include "apps/run_store_guarded.h"
#include "apps/store_schema.h"
#include "core/error.h"

namespace cnn {
namespace {

double nan_if_null(double value, soci::indicator indicator) {
  return indicator == soci::i_ok ? value : std::numeric_limits<double>::quiet_NaN();
}

double metric_value(double value, soci::indicator ok, const std::string& marker,
                    soci::indicator marker_ok) {
  if (ok == soci::i_ok) return value;
  if (marker_ok == soci::i_ok && marker == "+inf") return std::numeric_limits<double>::infinity();
  if (marker_ok == soci::i_ok && marker == "-inf") return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::quiet_NaN();
}

std::string text_or_empty(const std::string& value, soci::indicator ok) {
  return ok == soci::i_ok ? value : "";
}

// Where the statement proper begins: after leading blanks and comments (SOCI's MySQL backend
// returns no rows for a query that opens with a comment, so they are not sent).
size_t statement_start(const std::string& sql) {
  size_t at = 0;
  while (at < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[at]))) {
      ++at;
    } else if (sql.compare(at, 2, "--") == 0) {
      at = sql.find('\n', at);
      if (at == std::string::npos) return sql.size();
    } else if (sql.compare(at, 2, "/*") == 0) {
      at = sql.find("*/", at);
      if (at == std::string::npos) return sql.size();
      at += 2;
    } else {
      break;
    }
  }
  return at;
}

// The first word of the statement, upper-cased.
std::string first_word(const std::string& sql) {
  std::string word;
  for (size_t at = statement_start(sql);
       at < sql.size() && std::isalpha(static_cast<unsigned char>(sql[at])); ++at)
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[at])));
  return word;
}

// One statement only: a ';' followed by anything but blanks would be a second one.
bool single_statement(const std::string& sql) {
  const size_t semicolon = sql.find(';');
  return semicolon == std::string::npos ||
         sql.find_first_not_of(" \t\r\n;", semicolon) == std::string::npos;
}

std::optional<std::string> cell_text(const soci::row& row, size_t column) {
  if (row.get_indicator(column) == soci::i_null) return std::nullopt;
  std::ostringstream text;
  text.precision(17);
  switch (row.get_properties(column).get_data_type()) {
    case soci::dt_string:
      return row.get<std::string>(column);
    case soci::dt_double:
      text << row.get<double>(column);
      break;
    case soci::dt_integer:
      text << row.get<int>(column);
      break;
    case soci::dt_long_long:
      text << row.get<long long>(column);
      break;
    case soci::dt_unsigned_long_long:
      text << row.get<unsigned long long>(column);
      break;
    case soci::dt_date: {
      std::tm when = row.get<std::tm>(column);
      char buffer[32];
      std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &when);
      return std::string(buffer);
    }
    default:
      return std::string("?");
  }
  return text.str();
}

}  // namespace

std::vector<RunRow> RunStore::runs() { return runs(RunFilter{}); }

std::vector<RunRow> RunStore::runs(const RunFilter& filter) {
  std::vector<RunRow> rows = guarded("reading runs", [&] {
    std::vector<RunRow> found;
    RunRow row;
    long long id = 0, world = 1;
    std::string text[7];
    soci::indicator ok[8];
    soci::statement select =
        (sql_->prepare << statement("read_runs"), soci::into(id), soci::into(row.name),
         soci::into(row.run_dir), soci::into(text[0], ok[0]), soci::into(text[1], ok[1]),
         soci::into(row.status), soci::into(text[2], ok[2]), soci::into(text[3], ok[3]),
         soci::into(world, ok[7]), soci::into(text[4], ok[4]), soci::into(row.started_at),
         soci::into(text[5], ok[5]));
    select.execute();
    while (select.fetch()) {
      row.id = id;
      row.experiment = text_or_empty(text[0], ok[0]);
      row.variant = text_or_empty(text[1], ok[1]);
      row.config_yaml = text_or_empty(text[2], ok[2]);
      row.summary_json = text_or_empty(text[3], ok[3]);
      row.world_size = ok[7] == soci::i_ok ? world : 1;
      row.host = text_or_empty(text[4], ok[4]);
      row.finished_at = text_or_empty(text[5], ok[5]);
      found.push_back(row);
    }
    return found;
  });
  rows.erase(
      std::remove_if(rows.begin(), rows.end(),
                     [&](const RunRow& r) {
                       return (!filter.experiment.empty() && r.experiment != filter.experiment) ||
                              (!filter.status.empty() && r.status != filter.status);
                     }),
      rows.end());
  if (filter.params.empty()) return rows;
  std::vector<RunRow> matching;
  for (const RunRow& r : rows) {
    std::map<std::string, std::string> params;
    for (auto& [key, value] : parameters(r.id)) params[key] = value;
    bool all = true;
    for (const auto& [key, value] : filter.params)
      all = all && params.count(key) && params[key] == value;
    if (all) matching.push_back(r);
  }
  return matching;
}

std::optional<RunRow> RunStore::run(int64_t run_id) {
  for (const RunRow& row : runs())
    if (row.id == run_id) return row;
  return std::nullopt;
}

std::optional<RunRow> RunStore::find_run(const std::string& id_or_dir_name) {
  const bool digits =
      !id_or_dir_name.empty() && std::all_of(id_or_dir_name.begin(), id_or_dir_name.end(),
                                             [](unsigned char c) { return std::isdigit(c); });
  std::vector<RunRow> all = runs();
  if (digits)
    for (const RunRow& row : all)
      if (std::to_string(row.id) == id_or_dir_name) return row;
  std::optional<RunRow> latest;  // the same folder name run twice: the latest run
  for (const RunRow& row : all) {
    std::string dir = row.run_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const size_t slash = dir.rfind('/');
    const std::string last = slash == std::string::npos ? dir : dir.substr(slash + 1);
    if (last == id_or_dir_name || row.run_dir == id_or_dir_name) latest = row;
  }
  return latest;
}

std::vector<std::pair<std::string, std::string>> RunStore::parameters(int64_t run_id) {
  return guarded("reading params", [&] {
    std::vector<std::pair<std::string, std::string>> rows;
    long long run = run_id;
    std::string key, value;
    soci::indicator value_ok;
    soci::statement select = (sql_->prepare << statement("read_params"), soci::use(run),
                              soci::into(key), soci::into(value, value_ok));
    select.execute();
    while (select.fetch()) rows.emplace_back(key, text_or_empty(value, value_ok));
    return rows;
  });
}

std::vector<MetricRow> RunStore::metrics(int64_t run_id, const std::string& key,
                                         int64_t after_step) {
  return guarded("reading metrics", [&] {
    std::vector<MetricRow> rows;
    long long run = run_id, after = after_step, step = 0, epoch = 0;
    std::string wanted = key, name, marker;
    double value = 0;
    soci::indicator value_ok, marker_ok;
    soci::statement select =
        key.empty() ? (sql_->prepare << statement("read_metrics"), soci::use(run), soci::use(after),
                       soci::into(step), soci::into(epoch), soci::into(name),
                       soci::into(value, value_ok), soci::into(marker, marker_ok))
                    : (sql_->prepare << statement("read_metric"), soci::use(run), soci::use(after),
                       soci::use(wanted), soci::into(step), soci::into(epoch), soci::into(name),
                       soci::into(value, value_ok), soci::into(marker, marker_ok));
    select.execute();
    while (select.fetch())
      rows.push_back({step, epoch, name, metric_value(value, value_ok, marker, marker_ok)});
    return rows;
  });
}

std::vector<StepRow> RunStore::steps(int64_t run_id) {
  std::vector<StepRow> rows;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const MetricRow& m : metrics(run_id)) {
    if (m.key != "loss" && m.key != "accuracy" && m.key != "lr") continue;
    if (rows.empty() || rows.back().step != m.step)
      rows.push_back(StepRow{m.epoch, m.step, nan, nan, nan});
    StepRow& row = rows.back();
    (m.key == "loss" ? row.loss : m.key == "accuracy" ? row.accuracy : row.lr) = m.value;
  }
  return rows;
}

std::vector<EpochRecord> RunStore::epochs(int64_t run_id) {
  return guarded("reading epochs", [&] {
    std::vector<EpochRecord> rows;
    long long run = run_id, epoch = 0;
    double values[7] = {};
    soci::indicator ok[7];
    soci::statement select =
        (sql_->prepare << statement("read_epochs"), soci::use(run), soci::into(epoch),
         soci::into(values[0], ok[0]), soci::into(values[1], ok[1]), soci::into(values[2], ok[2]),
         soci::into(values[3], ok[3]), soci::into(values[4], ok[4]), soci::into(values[5], ok[5]),
         soci::into(values[6], ok[6]));
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
        (sql_->prepare << statement("read_layer_stats"), soci::use(run), soci::into(step),
         soci::into(layer), soci::into(kind), soci::into(value, value_ok));
    select.execute();
    while (select.fetch())
      rows.push_back(LayerStatRow{step, layer, kind, nan_if_null(value, value_ok)});
    return rows;
  });
}

std::vector<CheckpointRow> RunStore::checkpoints(int64_t run_id) {
  return guarded("reading checkpoints", [&] {
    std::vector<CheckpointRow> rows;
    long long run = run_id, step = 0;
    std::string path, sha256;
    soci::statement select = (sql_->prepare << statement("read_checkpoints"), soci::use(run),
                              soci::into(path), soci::into(step), soci::into(sha256));
    select.execute();
    while (select.fetch()) rows.push_back(CheckpointRow{path, step, sha256});
    return rows;
  });
}

QueryResult RunStore::query(const std::string& sql) {
  const std::string word = first_word(sql);
  CNN_CHECK((word == "SELECT" || word == "WITH") && single_statement(sql), "run database '",
            database_, "': a query must be one SELECT or WITH statement (read-only), not '",
            sql.substr(0, 60), "'");
  const bool sqlite = url_.backend == StoreBackend::sqlite;
  return guarded("query", [&] {
    // SQLite has no read-only transaction: query_only refuses writes for its duration.
    if (sqlite)
      *sql_ << "PRAGMA query_only = 1";
    else
      *sql_ << statement("read_only_mysql");
    QueryResult result;
    try {
      soci::rowset<soci::row> rows = (sql_->prepare << sql.substr(statement_start(sql)));
      for (const soci::row& row : rows) {
        if (result.columns.empty())
          for (size_t c = 0; c < row.size(); ++c)
            result.columns.push_back(row.get_properties(c).get_name());
        std::vector<std::optional<std::string>> cells;
        for (size_t c = 0; c < row.size(); ++c) cells.push_back(cell_text(row, c));
        result.rows.push_back(std::move(cells));
      }
    } catch (...) {
      if (sqlite)
        *sql_ << "PRAGMA query_only = 0";
      else
        rollback();
      throw;
    }
    if (sqlite)
      *sql_ << "PRAGMA query_only = 0";
    else
      rollback();
    return result;
  });
}

}  // namespace cnn
