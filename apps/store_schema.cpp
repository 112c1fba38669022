// The run store's SQL (see store_schema.h).
#include "apps/store_schema.h"

#include <map>

#include "core/error.h"

namespace cnn {
namespace {

// "{key}" marks a key column's collation and "{table}" a table's options: byte-wise,
// case-sensitive comparison on MySQL/TiDB (utf8mb4_bin), SQLite's default BINARY elsewhere.
std::string for_backend(std::string text, StoreBackend backend) {
  const bool mysql = backend == StoreBackend::mysql;
  auto replace = [&](const std::string& token, const std::string& with) {
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at))
      text.replace(at, token.size(), with);
  };
  replace("{key}", mysql ? " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" : "");
  replace("{table}", mysql ? " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" : "");
  return text;
}

const std::vector<std::string>& create_templates() {
  static const std::vector<std::string> statements = {
      "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY){table}",
      "CREATE TABLE IF NOT EXISTS runs (id BIGINT NOT NULL PRIMARY KEY,"
      " name VARCHAR(191){key} NOT NULL, run_dir VARCHAR(1024) NOT NULL,"
      " experiment VARCHAR(191){key}, variant VARCHAR(191){key}, status VARCHAR(32) NOT NULL,"
      " config_yaml TEXT, summary_json TEXT, world_size BIGINT, host VARCHAR(191),"
      " started_at VARCHAR(64) NOT NULL, finished_at VARCHAR(64)){table}",
      "CREATE TABLE IF NOT EXISTS params (run_id BIGINT NOT NULL, name VARCHAR(191){key} NOT NULL,"
      " value TEXT, PRIMARY KEY (run_id, name)){table}",
      "CREATE TABLE IF NOT EXISTS metrics (run_id BIGINT NOT NULL, step BIGINT NOT NULL,"
      " epoch BIGINT NOT NULL, name VARCHAR(64){key} NOT NULL, value DOUBLE,"
      " non_finite VARCHAR(8), PRIMARY KEY (run_id, step, name)){table}",
      "CREATE TABLE IF NOT EXISTS epochs (run_id BIGINT NOT NULL, epoch BIGINT NOT NULL,"
      " train_loss DOUBLE, train_acc DOUBLE, test_loss DOUBLE, test_acc DOUBLE, seconds DOUBLE,"
      " images_per_s DOUBLE, step_seconds DOUBLE, PRIMARY KEY (run_id, epoch)){table}",
      "CREATE TABLE IF NOT EXISTS layer_stats (run_id BIGINT NOT NULL, step BIGINT NOT NULL,"
      " layer VARCHAR(191){key} NOT NULL, kind VARCHAR(64){key} NOT NULL, value DOUBLE,"
      " PRIMARY KEY (run_id, step, layer, kind)){table}",
      "CREATE TABLE IF NOT EXISTS checkpoints (run_id BIGINT NOT NULL,"
      " path VARCHAR(191){key} NOT NULL, step BIGINT NOT NULL, sha256 CHAR(64) NOT NULL,"
      " PRIMARY KEY (run_id, path, step)){table}",
  };
  return statements;
}

// Version 1 (runs, configs, step_metrics, epoch_metrics, layer_stats) to 2: the new tables,
// one ALTER per new runs column, the rows copied over, the old tables dropped.
const std::vector<std::string>& migration_1_templates() {
  static const std::vector<std::string> statements = {
      "ALTER TABLE runs ADD COLUMN experiment VARCHAR(191){key}",
      "ALTER TABLE runs ADD COLUMN variant VARCHAR(191){key}",
      "ALTER TABLE runs ADD COLUMN config_yaml TEXT",
      "ALTER TABLE runs ADD COLUMN world_size BIGINT",
      "ALTER TABLE runs ADD COLUMN host VARCHAR(191)",
      "UPDATE runs SET world_size = 1,"
      " config_yaml = (SELECT c.yaml FROM configs c WHERE c.run_id = runs.id)",
      "INSERT INTO metrics (run_id, step, epoch, name, value, non_finite)"
      " SELECT run_id, step, epoch, 'loss', loss, CASE WHEN loss IS NULL THEN 'nan' END"
      " FROM step_metrics",
      "INSERT INTO metrics (run_id, step, epoch, name, value, non_finite)"
      " SELECT run_id, step, epoch, 'accuracy', accuracy,"
      " CASE WHEN accuracy IS NULL THEN 'nan' END FROM step_metrics",
      "INSERT INTO metrics (run_id, step, epoch, name, value, non_finite)"
      " SELECT run_id, step, epoch, 'lr', lr, CASE WHEN lr IS NULL THEN 'nan' END"
      " FROM step_metrics",
      "INSERT INTO epochs (run_id, epoch, train_loss, train_acc, test_loss, test_acc, seconds,"
      " images_per_s, step_seconds) SELECT run_id, epoch, train_loss, train_acc, test_loss,"
      " test_acc, seconds, images_per_s, step_seconds FROM epoch_metrics",
      "DROP TABLE step_metrics",
      "DROP TABLE epoch_metrics",
      "DROP TABLE configs",
  };
  return statements;
}

const std::map<std::string, std::string>& named_statements() {
  static const std::map<std::string, std::string> statements = {
      {"schema_version", "SELECT MAX(version) FROM schema_version"},
      {"set_schema_version", "DELETE FROM schema_version WHERE version <> :v"},
      {"count_schema_version", "SELECT COUNT(*) FROM schema_version"},
      {"read_run_configs", "SELECT id, config_yaml FROM runs"},
      {"insert_schema_version", "INSERT INTO schema_version (version) VALUES (:v)"},
      {"has_v1_runs", "SELECT COUNT(*) FROM runs WHERE 1 = 0"},
      {"has_v1_step_seconds", "SELECT step_seconds FROM epoch_metrics WHERE 1 = 0"},
      {"add_v1_step_seconds", "ALTER TABLE epoch_metrics ADD COLUMN step_seconds DOUBLE"},
      {"run_exists", "SELECT COUNT(*) FROM runs WHERE id = :r"},
      {"reopen_run",
       "UPDATE runs SET status = :st, finished_at = NULL, summary_json = NULL"
       " WHERE id = :r AND run_dir = :d"},
      {"drop_metrics_from", "DELETE FROM metrics WHERE run_id = :r AND step >= :s"},
      {"drop_layer_stats_from", "DELETE FROM layer_stats WHERE run_id = :r AND step >= :s"},
      {"drop_epochs_from", "DELETE FROM epochs WHERE run_id = :r AND epoch >= :e"},
      {"finish_run",
       "UPDATE runs SET status = :st, finished_at = :f, summary_json = :j WHERE id = :r"},
      {"read_runs",
       "SELECT id, name, run_dir, experiment, variant, status, config_yaml, summary_json,"
       " world_size, host, started_at, finished_at FROM runs ORDER BY id"},
      {"read_params", "SELECT name, value FROM params WHERE run_id = :r ORDER BY name"},
      {"read_all_params", "SELECT run_id, name, value FROM params"},
      {"read_metrics",
       "SELECT step, epoch, name, value, non_finite FROM metrics WHERE run_id = :r"
       " AND step > :s ORDER BY step, name"},
      {"read_metric",
       "SELECT step, epoch, name, value, non_finite FROM metrics WHERE run_id = :r"
       " AND step > :s AND name = :k ORDER BY step, name"},
      {"read_epochs",
       "SELECT epoch, train_loss, train_acc, test_loss, test_acc, seconds, images_per_s,"
       " step_seconds FROM epochs WHERE run_id = :r ORDER BY epoch"},
      {"read_layer_stats",
       "SELECT step, layer, kind, value FROM layer_stats WHERE run_id = :r"
       " ORDER BY step, layer, kind"},
      {"read_checkpoints",
       "SELECT path, step, sha256 FROM checkpoints WHERE run_id = :r ORDER BY step, path"},
      {"read_only_mysql", "START TRANSACTION READ ONLY"},
  };
  return statements;
}

}  // namespace

const UpsertTable& runs_table() {
  static const UpsertTable table{"runs",
                                 {"id", "name", "run_dir", "experiment", "variant", "status",
                                  "config_yaml", "world_size", "host", "started_at"},
                                 {"id"}};
  return table;
}
const UpsertTable& params_table() {
  static const UpsertTable table{"params", {"run_id", "name", "value"}, {"run_id", "name"}};
  return table;
}
const UpsertTable& metrics_table() {
  static const UpsertTable table{"metrics",
                                 {"run_id", "step", "epoch", "name", "value", "non_finite"},
                                 {"run_id", "step", "name"}};
  return table;
}
const UpsertTable& epochs_table() {
  static const UpsertTable table{"epochs",
                                 {"run_id", "epoch", "train_loss", "train_acc", "test_loss",
                                  "test_acc", "seconds", "images_per_s", "step_seconds"},
                                 {"run_id", "epoch"}};
  return table;
}
const UpsertTable& layer_stats_table() {
  static const UpsertTable table{"layer_stats",
                                 {"run_id", "step", "layer", "kind", "value"},
                                 {"run_id", "step", "layer", "kind"}};
  return table;
}
const UpsertTable& checkpoints_table() {
  static const UpsertTable table{
      "checkpoints", {"run_id", "path", "step", "sha256"}, {"run_id", "path", "step"}};
  return table;
}

std::vector<std::string> create_statements(StoreBackend backend) {
  std::vector<std::string> statements;
  for (const std::string& text : create_templates())
    statements.push_back(for_backend(text, backend));
  return statements;
}

std::vector<std::string> migration_statements(int64_t from, StoreBackend backend) {
  CNN_CHECK(from == 1, "run store: there is no migration from schema version ", from);
  std::vector<std::string> statements = create_statements(backend);
  for (const std::string& text : migration_1_templates())
    statements.push_back(for_backend(text, backend));
  return statements;
}

std::string upsert_statement(const UpsertTable& table, size_t rows, StoreBackend backend) {
  std::string columns, placeholders, updates;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const std::string column = table.columns[c];
    columns += (c ? ", " : "") + column;
    bool key = false;
    for (const char* k : table.key) key = key || column == k;
    if (key) continue;
    updates += (updates.empty() ? "" : ", ") + column + " = " +
               (backend == StoreBackend::mysql ? "VALUES(" + column + ")" : "excluded." + column);
  }
  std::string text = "INSERT INTO " + std::string(table.name) + " (" + columns + ") VALUES ";
  size_t placeholder = 0;
  for (size_t r = 0; r < rows; ++r) {
    text += r ? ", (" : "(";
    for (size_t c = 0; c < table.columns.size(); ++c)
      text += (c ? ", :v" : ":v") + std::to_string(placeholder++);
    text += ")";
  }
  if (backend == StoreBackend::mysql) return text + " ON DUPLICATE KEY UPDATE " + updates;
  std::string key;
  for (const char* k : table.key) key += (key.empty() ? "" : ", ") + std::string(k);
  return text + " ON CONFLICT (" + key + ") DO UPDATE SET " + updates;
}

const std::string& statement(const std::string& name) {
  auto found = named_statements().find(name);
  CNN_CHECK(found != named_statements().end(), "run store: no statement named '", name, "'");
  return found->second;
}

std::vector<std::string> all_statements(StoreBackend backend) {
  std::vector<std::string> statements = create_statements(backend);
  for (const std::string& text : migration_statements(1, backend)) statements.push_back(text);
  for (const auto& [name, text] : named_statements()) statements.push_back(text);
  for (const UpsertTable* table : {&runs_table(), &params_table(), &metrics_table(),
                                   &epochs_table(), &layer_stats_table(), &checkpoints_table()})
    for (size_t rows : {1, 3}) statements.push_back(upsert_statement(*table, rows, backend));
  return statements;
}

}  // namespace cnn
