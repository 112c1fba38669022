// RunStore: schema and rows round trip, replacement on re-logging, NaN as NULL, errors naming the
// database, and two writers (threads, then processes) on one SQLite file at once.
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "apps/run_store.h"
#include "core/error.h"

using namespace cnn;
using Catch::Contains;

namespace {

struct TemporaryFolder {
  std::string path;
  TemporaryFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cnnlab_rs_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// Runs one query through the SQLite C API (as the sqlite3 shell would) and returns the first
// column of every row joined by ','.
std::string query(const std::string& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string out;
  auto collect = [](void* target, int, char** values, char**) {
    auto& text = *static_cast<std::string*>(target);
    if (!text.empty()) text += ",";
    text += values[0] ? values[0] : "NULL";
    return 0;
  };
  char* error = nullptr;
  int rc = sqlite3_exec(handle, sql.c_str(), collect, &out, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(handle);
  INFO(message);
  REQUIRE(rc == SQLITE_OK);
  return out;
}

void log_many(const std::string& db, const std::string& name, int steps, bool batched) {
  RunStore store(db);
  int64_t run = store.begin_run(name, "runs/" + name, "seed: 1\n", "2024-05-01T10:00:00Z");
  if (batched) {
    std::vector<StepRow> rows;
    for (int s = 0; s < steps; ++s) rows.push_back(StepRow{s / 50, s, 0.1, 1.0 / (s + 1), 0.5});
    for (size_t begin = 0; begin < rows.size(); begin += 20)
      store.log_steps(run, std::vector<StepRow>(rows.begin() + begin,
                                                rows.begin() + std::min(rows.size(), begin + 20)));
  } else {
    for (int s = 0; s < steps; ++s) store.log_step(run, s / 50, s, 0.1, 1.0 / (s + 1), 0.5);
  }
  store.log_epoch(run, EpochRecord{1, 1.0, 0.5, 1.1, 0.4, 2.0, 1000.0});
  store.finish_run(run, "completed", "{}");
}

}  // namespace

TEST_CASE("run store creates the schema in WAL mode and round-trips a run", "[run_store]") {
  TemporaryFolder folder;
  std::string db = folder.path + "/runs/runs.db";  // the folder is created
  RunStore store(db);
  REQUIRE(store.database() == db);
  REQUIRE(query(db, "PRAGMA journal_mode") == "wal");
  REQUIRE(query(db,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite_%' ORDER BY name") ==
          "checkpoints,epochs,layer_stats,metrics,params,runs,schema_version");
  REQUIRE(query(db, "SELECT version FROM schema_version") == "2");

  int64_t run =
      store.begin_run("cifar_bn", "runs/cifar_bn", "model: vgg\nlr: 0.1\n", "2024-05-01T10:00:00Z");
  int64_t second =
      store.begin_run("cifar_plain", "runs/cifar_plain", "model: vgg\n", "2024-05-01T11:00:00Z");
  REQUIRE(second > run);

  store.log_step(run, 0, 1, 0.1, 2.3, 0.1);
  store.log_steps(run, {{0, 2, 0.1, 2.1, 0.2}, {1, 3, 0.05, 1.9, 0.3}});
  store.log_step(run, 1, 2, 0.1, 2.0, 0.25);  // re-logged (a resumed run) replaces the old row
  store.log_step(second, 0, 1, 0.1, std::nan(""), 0.0);
  store.log_epoch(run, EpochRecord{1, 2.0, 0.3, 1.8, 0.35, 12.5, 4000.0});
  store.log_epoch(run, EpochRecord{2, 1.5, 0.5, std::nan(""), std::nan(""), 11.0, 4500.0});
  store.log_layer_stat(run, 3, "features.0", "activation_mean", 0.5);
  store.log_layer_stats(run, {{3, "features.0", "activation_std", 1.5},
                              {3, "classifier", "grad_norm", 0.01},
                              {3, "features.0", "activation_mean", 0.25}});
  store.finish_run(run, "completed", R"({"best_test_acc": 0.35})");

  std::vector<RunRow> runs = store.runs();
  REQUIRE(runs.size() == 2);
  REQUIRE(runs[0].id == run);
  REQUIRE(runs[0].name == "cifar_bn");
  REQUIRE(runs[0].run_dir == "runs/cifar_bn");
  REQUIRE(runs[0].config_yaml == "model: vgg\nlr: 0.1\n");
  REQUIRE(runs[0].started_at == "2024-05-01T10:00:00Z");
  REQUIRE(runs[0].status == "completed");
  REQUIRE(runs[0].summary_json == R"({"best_test_acc": 0.35})");
  REQUIRE(runs[0].finished_at.size() == 20);  // 2024-05-01T10:00:00Z
  REQUIRE(runs[1].status == "running");
  REQUIRE(runs[1].finished_at.empty());
  REQUIRE(runs[1].summary_json.empty());

  std::vector<StepRow> steps = store.steps(run);
  REQUIRE(steps.size() == 3);
  REQUIRE(steps[1].epoch == 1);
  REQUIRE(steps[1].step == 2);
  REQUIRE(steps[1].loss == 2.0);
  REQUIRE(steps[1].accuracy == 0.25);
  REQUIRE(steps[2].lr == 0.05);
  REQUIRE(std::isnan(store.steps(second).at(0).loss));
  REQUIRE(query(db, "SELECT count(*) FROM metrics WHERE value IS NULL AND non_finite = 'nan'") == "1");

  std::vector<EpochRecord> epochs = store.epochs(run);
  REQUIRE(epochs.size() == 2);
  REQUIRE(epochs[0].train_loss == 2.0);
  REQUIRE(epochs[0].test_acc == 0.35);
  REQUIRE(epochs[0].seconds == 12.5);
  REQUIRE(epochs[0].images_per_s == 4000.0);
  REQUIRE(std::isnan(epochs[1].test_loss));
  REQUIRE(epochs[1].train_acc == 0.5);

  std::vector<LayerStatRow> stats = store.layer_stats(run);
  REQUIRE(stats.size() == 3);
  REQUIRE(stats[0].layer == "classifier");
  REQUIRE(stats[1].kind == "activation_mean");
  REQUIRE(stats[1].value == 0.25);
  REQUIRE(store.steps(12345).empty());

  // Another connection (a later `cnnlab runs` command) sees the same rows.
  RunStore reopened("sqlite3://db=" + db + " timeout=5");
  REQUIRE(reopened.runs().size() == 2);
  REQUIRE(reopened.steps(run).size() == 3);
}

TEST_CASE("run store refuses bad statuses and unknown runs", "[run_store]") {
  TemporaryFolder folder;
  RunStore store(folder.path + "/runs.db");
  int64_t run = store.begin_run("r", "runs/r", "", "2024-05-01T10:00:00Z");
  REQUIRE_THROWS_WITH(store.finish_run(run, "done", "{}"),
                      Contains("completed, diverged, interrupted or failed, not 'done'"));
  REQUIRE_THROWS_WITH(store.finish_run(run + 100, "failed", "{}"),
                      Contains("there is no run with id " + std::to_string(run + 100)));
  for (const char* status : {"diverged", "interrupted", "failed", "completed"})
    store.finish_run(run, status, "{}");
  REQUIRE(store.runs().at(0).status == "completed");
}

TEST_CASE("run store errors name the database", "[run_store]") {
  TemporaryFolder folder;
  std::string plain = folder.path + "/plain";
  std::ofstream(plain) << "not a folder";
  std::string below = plain + "/runs.db";  // root ignores permissions, not this
  REQUIRE_THROWS_AS(RunStore(below), Error);
  REQUIRE_THROWS_WITH(RunStore(below), Contains("run database '" + below + "'"));

  std::string corrupt = folder.path + "/corrupt.db";
  std::ofstream(corrupt) << std::string(4096, 'x');
  REQUIRE_THROWS_WITH(RunStore(corrupt),
                      Contains("run database '" + corrupt + "'") && Contains("not a database"));

  // Another SOCI backend loads at run time; an unknown one is an error naming it, and a
  // password in the connection string never reaches the message.
  // An unknown scheme is an error naming it, and a password in the URL never reaches the message.
  REQUIRE_THROWS_WITH(
      RunStore("nosuchdb://db=runs user=me password=secret"),
      Contains("run database 'nosuchdb://db=runs user=me password=***'") && !Contains("secret"));
  REQUIRE_THROWS_WITH(RunStore("mysql://me:secret@localhost/runs"),
                      Contains("CNNLAB_STORE_PASSWORD") && !Contains("secret"));
  REQUIRE_THROWS_WITH(RunStore(""), Contains("connection string is empty"));
  REQUIRE_THROWS_WITH(RunStore("sqlite3://timeout=3"), Contains("names no database"));
}

TEST_CASE("run store takes two writers on one file at once (threads)", "[run_store]") {
  TemporaryFolder folder;
  std::string db = folder.path + "/runs.db";
  std::thread first([&] { log_many(db, "first", 200, false); });
  std::thread second([&] { log_many(db, "second", 200, false); });
  first.join();
  second.join();
  RunStore store(db);
  std::vector<RunRow> runs = store.runs();
  REQUIRE(runs.size() == 2);
  for (const RunRow& run : runs) {
    REQUIRE(run.status == "completed");
    REQUIRE(store.steps(run.id).size() == 200);
    REQUIRE(store.epochs(run.id).size() == 1);
  }
  REQUIRE(query(db, "SELECT count(*) FROM metrics") == "1200");  // loss, accuracy, lr
}

TEST_CASE("run store takes two writers on one file at once (processes)", "[run_store]") {
  TemporaryFolder folder;
  std::string db = folder.path + "/runs.db";
  pid_t children[2];
  for (int i = 0; i < 2; ++i) {
    children[i] = ::fork();
    REQUIRE(children[i] >= 0);
    if (children[i] == 0) {
      int code = 0;
      try {
        log_many(db, "process" + std::to_string(i), 200, i == 1);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "writer process %d failed: %s\n", i, error.what());
        code = 1;
      }
      ::_exit(code);  // no Catch2 teardown in the child
    }
  }
  for (pid_t child : children) {
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  RunStore store(db);
  REQUIRE(store.runs().size() == 2);
  REQUIRE(query(db, "SELECT count(*) FROM metrics") == "1200");
  REQUIRE(query(db, "SELECT count(DISTINCT run_id) FROM metrics") == "2");
  REQUIRE(query(db, "SELECT group_concat(status) FROM runs") == "completed,completed");
}
