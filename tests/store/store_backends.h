// The backends every store test runs on, with the same assertions: SQLite in a temporary
// folder, and the MariaDB server the CTest fixture started (tests/store/mariadb_fixture.sh),
// a fresh database per test. Without that server a MariaDB case says why it is skipped.
//
//   TEST_CASE(...) { STORE_BACKEND(store); RunStore runs(store.url); ... }
#pragma once

#include <soci/soci.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "apps/store_url.h"

namespace cnn::testing {

inline std::string fixture_file(const std::string& name) {
  std::ifstream file(std::string(CNNLAB_BINARY_DIR) + "/mariadb/" + name);
  std::string line;
  std::getline(file, line);
  return line;
}

// Runs one statement on the fixture's server as the test user (no database selected).
inline void mariadb_admin(const std::string& sql) {
  StoreUrl url = parse_store_url(fixture_file("url"));
  url.database = "mysql";
  soci::session session("mysql", soci_parameters(url));
  session << sql;
}

// A fresh temporary folder, removed with everything in it.
struct StoreFolder {
  std::string path;
  StoreFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cnnlab_store_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~StoreFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

struct TestStore {
  std::string backend, url, skipped;  // skipped: why this backend cannot run here
  StoreFolder folder;
  std::string database;  // MariaDB: this test's database, dropped at the end

  explicit TestStore(const std::string& which) : backend(which) {
    if (backend == "sqlite") {
      url = "sqlite:" + folder / "runs.db";
      return;
    }
    skipped = fixture_file("skip");
    if (skipped.empty() && fixture_file("url").empty())
      skipped = "the MariaDB fixture did not run (run the store tests through ctest)";
    if (!skipped.empty()) return;
    ::setenv("CNNLAB_STORE_PASSWORD", fixture_file("password").c_str(), 1);
    static std::atomic<int> counter{0};
    database = "cnnlab_t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    mariadb_admin("DROP DATABASE IF EXISTS " + database);
    mariadb_admin("CREATE DATABASE " + database);
    const std::string base = fixture_file("url");
    url = base.substr(0, base.rfind('/') + 1) + database;
  }
  ~TestStore() {
    if (database.empty()) return;
    try {
      mariadb_admin("DROP DATABASE IF EXISTS " + database);
    } catch (...) {
      // A server a test stopped: the fixture's teardown removes its data directory anyway.
    }
  }
};

}  // namespace cnn::testing

// Runs the rest of the test case once per backend ("sqlite", "mariadb"); Catch2 v2 has no
// SKIP, so a MariaDB case without its server warns with the reason and returns.
#define STORE_BACKEND(store)                                                            \
  const std::string store##_backend = GENERATE(as<std::string>{}, "sqlite", "mariadb"); \
  cnn::testing::TestStore store(store##_backend);                                       \
  INFO("backend " << store##_backend << " " << store.url);                              \
  if (!store.skipped.empty()) {                                                         \
    WARN("MariaDB store test skipped: " << store.skipped);                              \
    return;                                                                             \
  }
