// The run store is the source of truth: `cnnlab report` reads a run's records from it (the
// CSV files are exports of the same records), and a resumed run continues its own row.
#include <catch2/catch.hpp>

#include <filesystem>

#include "apps/config.h"
#include "apps/report.h"
#include "apps/run_files.h"
#include "apps/run_store.h"
#include "apps/trainer.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
namespace fs = std::filesystem;

TEST_CASE("report reads a run from the store, not from its CSV exports", "[apps][recorder]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 32);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 2, 0.05,
                                                 "layer_stats_every: 2"));
  TrainOptions options;
  options.out_dir = tmp / "runs/a";
  options.quiet = true;
  TrainResult result = train_run(load_config(tmp / "tiny.yaml"), options);
  REQUIRE(result.status == "completed");

  RunStore store(tmp / "runs/runs.db");
  REQUIRE(store.runs().size() == 1);
  const int64_t run_id = store.runs()[0].id;
  // The exports hold the store's records.
  CHECK(read_lines(options.out_dir + "/metrics.csv").size() == 1 + store.steps(run_id).size());
  std::vector<EpochRecord> exported = read_epochs_csv(options.out_dir + "/epochs.csv");
  REQUIRE(exported.size() == 2);
  CHECK(exported[1].epoch == 2);
  CHECK(exported[1].test_acc == Approx(store.epochs(run_id)[1].test_acc).epsilon(1e-5));

  for (const char* file : {"metrics.csv", "epochs.csv", "layer_stats.csv"})
    fs::remove(fs::path(options.out_dir) / file);
  std::vector<RunReport> runs = read_runs({options.out_dir});
  REQUIRE(runs.size() == 1);
  REQUIRE(runs[0].epochs.size() == 2);
  CHECK(runs[0].epochs[0].epoch == 1);
  CHECK(runs[0].epochs[1].test_acc == store.epochs(run_id)[1].test_acc);
  CHECK(runs[0].epochs[1].step_seconds > 0);
  CHECK(runs[0].steps.size() == 8);  // 128 images / 32, two epochs
  CHECK_FALSE(runs[0].layer_stats.empty());
}

TEST_CASE("a resumed run continues its own row in the store", "[apps][recorder]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 32);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 3));
  TrainOptions first;
  first.out_dir = tmp / "runs/r";
  first.quiet = true;
  Config stopped = load_config(tmp / "tiny.yaml", {"train.max_steps=6"});
  REQUIRE(train_run(stopped, first).status == "completed");  // 6 of 12 steps, mid-epoch 2

  TrainOptions resume;
  resume.resume_dir = first.out_dir;
  resume.quiet = true;
  TrainResult result = train_run(load_config(tmp / "tiny.yaml"), resume);
  REQUIRE(result.status == "completed");
  CHECK(result.epochs.size() == 3);

  RunStore store(tmp / "runs/runs.db");
  std::vector<RunRow> rows = store.runs();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].status == "completed");
  std::vector<StepRow> steps = store.steps(rows[0].id);
  REQUIRE(steps.size() == 12);
  for (size_t i = 0; i < steps.size(); ++i) CHECK(steps[i].step == static_cast<int64_t>(i));
  std::vector<EpochRecord> epochs = store.epochs(rows[0].id);
  REQUIRE(epochs.size() == 3);
  CHECK(epochs[2].epoch == 3);
  CHECK(read_runs({first.out_dir})[0].epochs.size() == 3);
}

TEST_CASE("report: a summary naming no store, or a store that is gone, is a clear error",
          "[apps][recorder]") {
  TempDir tmp;
  fs::create_directories(tmp / "old");
  write_text(tmp / "old/summary.json", "{\"status\": \"completed\"}\n");
  CHECK_THROWS_WITH(read_runs({tmp / "old"}),
                    Catch::Contains("old/summary.json' names no run store"));
  fs::create_directories(tmp / "moved");
  write_text(tmp / "moved/summary.json",
             "{\"status\": \"completed\", \"store\": \"" + (tmp / "gone.db") + "\", \"run_id\": 1}\n");
  CHECK_THROWS_WITH(read_runs({tmp / "moved"}),
                    Catch::Contains("gone.db' that '") && Catch::Contains("does not exist"));
}
