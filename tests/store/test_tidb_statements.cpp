// Every statement the run store issues (apps/store_schema.h's all_statements) scanned for
// what TiDB refuses or handles differently: AUTO_INCREMENT reliance, triggers, procedures,
// functions, foreign keys, ALTERs with more than one change, indexed VARCHARs over 191
// characters, key columns without utf8mb4_bin, and SQLite-only syntax on the MySQL side.
#include <catch2/catch.hpp>
#include <regex>

#include "apps/store_schema.h"

using namespace cnn;

namespace {

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// The VARCHAR columns a CREATE TABLE's PRIMARY KEY names, with their declared lengths.
std::vector<std::pair<std::string, int>> keyed_varchars(const std::string& create) {
  std::vector<std::pair<std::string, int>> out;
  std::smatch key;
  if (!std::regex_search(create, key, std::regex(R"(PRIMARY KEY \(([^)]*)\))"))) return out;
  const std::string columns = key[1];
  std::regex varchar(R"((\w+) VARCHAR\((\d+)\))");
  for (auto it = std::sregex_iterator(create.begin(), create.end(), varchar);
       it != std::sregex_iterator(); ++it)
    if (std::regex_search(columns, std::regex("\\b" + (*it)[1].str() + "\\b")))
      out.emplace_back((*it)[1], std::stoi((*it)[2]));
  return out;
}

}  // namespace

TEST_CASE("every store statement avoids what TiDB refuses", "[store][tidb]") {
  const std::vector<std::string> statements = all_statements(StoreBackend::mysql);
  REQUIRE(statements.size() > 30);
  for (const std::string& statement : statements) {
    INFO(statement);
    const std::string text = upper(statement);
    for (const char* refused :
         {"AUTO_INCREMENT", "AUTOINCREMENT", "TRIGGER", "PROCEDURE", "FUNCTION", "REFERENCES",
          "FOREIGN KEY", "FULLTEXT", "SPATIAL", "GET_LOCK", "LOCK TABLES", "EXCLUDED.",
          "ON CONFLICT", "PRAGMA", "SAVEPOINT", "INSERT OR", "REPLACE INTO", "LAST_INSERT_ID"})
      CHECK(text.find(refused) == std::string::npos);
    if (text.rfind("ALTER TABLE", 0) == 0) {
      CHECK(text.find(',') == std::string::npos);  // one change per ALTER
      CHECK(text.find(" ADD COLUMN ") != std::string::npos);
    }
    if (text.rfind("CREATE TABLE", 0) == 0) {
      CHECK(text.find("PRIMARY KEY") != std::string::npos);  // a clustered key of our own
      CHECK(text.find("CHARSET=UTF8MB4 COLLATE=UTF8MB4_BIN") != std::string::npos);
      for (const auto& [column, length] : keyed_varchars(statement)) {
        INFO(column);
        CHECK(length <= 191);  // 191 x 4 bytes of utf8mb4 fit InnoDB's 767-byte index prefix
        CHECK(std::regex_search(
            statement,
            std::regex(column + R"( VARCHAR\(\d+\) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin)")));
      }
    }
    if (text.rfind("INSERT INTO", 0) == 0 && text.find(" SELECT ") == std::string::npos &&
        text.find("SCHEMA_VERSION") == std::string::npos)
      CHECK(text.find("ON DUPLICATE KEY UPDATE") != std::string::npos);  // idempotent
  }
}

TEST_CASE("SQLite's statements are the same upserts in its own syntax", "[store][tidb]") {
  for (const std::string& statement : all_statements(StoreBackend::sqlite)) {
    INFO(statement);
    CHECK(statement.find("utf8mb4") == std::string::npos);
    CHECK(statement.find("ON DUPLICATE KEY") == std::string::npos);
  }
  REQUIRE(upsert_statement(metrics_table(), 2, StoreBackend::sqlite) ==
          "INSERT INTO metrics (run_id, step, epoch, name, value, non_finite) VALUES (:v0, :v1, "
          ":v2, :v3, :v4, :v5), (:v6, :v7, :v8, :v9, :v10, :v11) ON CONFLICT (run_id, step, "
          "name) DO UPDATE SET epoch = excluded.epoch, value = excluded.value, non_finite = "
          "excluded.non_finite");
}
