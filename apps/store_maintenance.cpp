// Store maintenance commands (see store_maintenance.h).
#include "apps/store_maintenance.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/run_store.h"
#include "apps/store_schema.h"
#include "apps/store_spool.h"
#include "apps/store_url.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace cnn {
namespace {

// The store a run directory's summary.json names (sync's default), else runs.db beside it.
std::string run_dir_store(const std::string& run_dir) {
  std::ifstream file(fs::path(run_dir) / "summary.json");
  nlohmann::json summary = nlohmann::json::parse(file, nullptr, false);
  if (!summary.is_discarded() && summary.contains("store") && summary["store"].is_string())
    return summary["store"];
  const fs::path parent = fs::path(run_dir).parent_path();
  return ((parent.empty() ? fs::path(".") : parent) / "runs.db").string();
}

// Runs a command from its CLI11 callback: its exit status (and an error's sentence) leave
// through CLI::RuntimeError, which the parser turns into the program's exit status.
void run_as_callback(const std::function<int()>& command) {
  int status = 1;
  try {
    status = command();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cnnlab: error: %s\n", error.what());
  }
  throw CLI::RuntimeError(status);
}

}  // namespace

int run_migrate(const std::string& url) {
  const int64_t found = RunStore::migrate(url);
  if (found == kStoreSchemaVersion)
    std::printf("%s: already at schema version %ld\n", RunStore::describe(url).c_str(),
                static_cast<long>(found));
  else
    std::printf("%s: schema version %ld -> %ld\n", RunStore::describe(url).c_str(),
                static_cast<long>(found), static_cast<long>(kStoreSchemaVersion));
  return 0;
}

int run_sync(const std::string& run_dir, const std::string& url) {
  StoreSpool spool((fs::path(run_dir) / kStoreSpoolFile).string());
  const std::string store_url = choose_store_url(url, run_dir_store(run_dir));
  if (spool.empty()) {
    std::printf("%s: nothing to sync (no %s)\n", run_dir.c_str(), kStoreSpoolFile);
    return 0;
  }
  RunStore store(store_url);
  std::vector<StoreBatch> batches = spool.read();
  size_t rows = 0;
  for (const StoreBatch& batch : batches) {
    store.write(batch);
    rows += batch.rows();
  }
  spool.clear();
  std::printf("%s: %zu batches (%zu rows) written to %s\n", run_dir.c_str(), batches.size(), rows,
              store.database().c_str());
  return 0;
}

void add_store_maintenance_commands(CLI::App& runs) {
  auto store = std::make_shared<std::string>();
  auto run_dir = std::make_shared<std::string>();
  auto* migrate = runs.add_subcommand("migrate", "Upgrade a run store to this cnnlab's schema");
  migrate->add_option("--store", *store,
                      "Run store URL: sqlite:PATH or mysql://USER@HOST[:PORT]/DB "
                      "(default CNNLAB_STORE, else runs/runs.db)");
  migrate->callback([store] {
    run_as_callback([store] { return run_migrate(choose_store_url(*store, "runs/runs.db")); });
  });
  auto* sync =
      runs.add_subcommand("sync", "Push the records a run spooled while its store was away");
  sync->add_option("run_dir", *run_dir, "The run directory (holds store_spool.jsonl)")->required();
  sync->add_option("--store", *store, "Run store URL (default: the one summary.json names)");
  sync->callback([store, run_dir] {
    run_as_callback([store, run_dir] { return run_sync(*run_dir, *store); });
  });
}

}  // namespace cnn
