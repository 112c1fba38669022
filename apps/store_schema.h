// Every SQL statement the run store issues, in one place, for SQLite and for MySQL-protocol
// servers (MySQL, MariaDB, TiDB): the schema (version 2), the numbered migrations, and the
// upserts. TiDB's limits shape it: application-generated run ids (no AUTO_INCREMENT), no
// triggers, procedures or enforced foreign keys, one change per ALTER, utf8mb4_bin on key
// columns, indexed VARCHARs of at most 191 characters, multi-row upserts in small
// transactions. tests/store/test_tidb_statements.cpp scans all_statements() for the rest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/store_url.h"

namespace cnn {

constexpr int64_t kStoreSchemaVersion = 2;

// A table written by multi-row upserts: its columns and the key an upsert replaces on.
struct UpsertTable {
  const char* name;
  std::vector<const char*> columns;
  std::vector<const char*> key;  // the primary key; every other column is updated
};

const UpsertTable& runs_table();
const UpsertTable& params_table();
const UpsertTable& metrics_table();
const UpsertTable& epochs_table();
const UpsertTable& layer_stats_table();
const UpsertTable& checkpoints_table();

// CREATE TABLE / INDEX statements of the current schema, idempotent (IF NOT EXISTS).
std::vector<std::string> create_statements(StoreBackend backend);

// Migration `from` -> `from + 1`: its statements (after them the store fills what SQL cannot,
// e.g. the parameters flattened from each run's YAML). Version 1 is the schema before
// schema_version existed (runs, configs, step_metrics, epoch_metrics, layer_stats).
std::vector<std::string> migration_statements(int64_t from, StoreBackend backend);

// INSERT INTO table (columns) VALUES (?, ...) x rows, with SQLite's ON CONFLICT DO UPDATE or
// MySQL's ON DUPLICATE KEY UPDATE: an idempotent write of `rows` rows.
std::string upsert_statement(const UpsertTable& table, size_t rows, StoreBackend backend);

// The statements that are not upserts, by name (the store's reads, updates and deletes).
const std::string& statement(const std::string& name);

// Every statement above (upserts of one and of several rows), for the TiDB scan.
std::vector<std::string> all_statements(StoreBackend backend);

}  // namespace cnn
