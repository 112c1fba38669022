// End-to-end: a tiny model on tiny learnable data trains, its loss falls, and the run
// directory and the run database hold everything the issue lists.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/config.h"
#include "apps/run_files.h"
#include "apps/run_store.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

TEST_CASE("train: loss falls on tiny data and the run directory is complete", "[apps][train]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 256, 64);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 3));
  Config config = load_config(tmp / "tiny.yaml", {"name=smoke"});
  TrainOptions options;
  options.out_dir = tmp / "runs/smoke";
  options.quiet = true;
  TrainResult result = train_run(config, options);

  CHECK(result.status == "completed");
  CHECK_FALSE(result.diverged);
  CHECK(result.run_dir == options.out_dir);
  CHECK(result.epochs.size() == 3);
  CHECK(result.parameter_count == 8 * 3 * 3 * 3 + 2 * 8 + 10 * 8 * 8 * 8 + 10);  // conv bias off
  CHECK(result.train_images_per_s > 0);

  const fs::path dir = options.out_dir;
  for (const char* file :
       {"config.yaml", "train.log", "metrics.csv", "epochs.csv", "checkpoint.safetensors",
        "best.safetensors", "state.safetensors", "summary.json"}) {
    INFO(file);
    CHECK(fs::is_regular_file(dir / file));
    CHECK(fs::file_size(dir / file) > 0);
  }
  CHECK_FALSE(fs::exists(dir / "layer_stats.csv"));  // train.layer_stats_every is 0

  SECTION("metrics.csv has the header and one row per step, and the loss falls") {
    std::vector<std::string> lines = read_lines((dir / "metrics.csv").string());
    REQUIRE(lines.size() == 1 + 3 * 8);  // 256 images / 32 = 8 steps per epoch
    CHECK(lines[0] == "epoch,step,lr,loss,accuracy");
    double first = 0, last = 0;
    CHECK(std::stod(split_csv(lines[1])[3]) > 2.0);  // about ln(10) at the start
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> fields = split_csv(lines[i]);
      REQUIRE(fields.size() == 5);
      CHECK(std::stoll(fields[0]) == 1 + static_cast<int64_t>(i - 1) / 8);  // epoch, 1-based
      CHECK(std::stoll(fields[1]) == static_cast<int64_t>(i - 1));          // global step
      CHECK(std::stod(fields[2]) == Approx(0.05));
      if (i <= 4) first += std::stod(fields[3]) / 4;
      if (i > lines.size() - 4) last += std::stod(fields[3]) / 4;
    }
    INFO("mean loss of the first 4 steps " << first << ", of the last 4 " << last);
    CHECK(last < 0.5 * first);
  }

  SECTION("epochs.csv: one row per epoch, train loss falling, test accuracy well above chance") {
    std::vector<EpochRecord> epochs = read_epochs_csv((dir / "epochs.csv").string());
    REQUIRE(epochs.size() == 3);
    CHECK(read_lines((dir / "epochs.csv").string())[0] == epochs_csv_header());
    CHECK(epochs[2].train_loss < epochs[0].train_loss);
    CHECK(epochs[2].test_acc > 0.5);  // chance is 0.1
    CHECK(epochs[2].test_acc == Approx(result.final_test_acc));
  }

  SECTION("summary.json has the keys reports read") {
    nlohmann::json summary = read_json_file((dir / "summary.json").string());
    for (const char* key : {"final_test_acc", "best_test_acc", "train_images_per_s", "diverged",
                            "diverged_step", "status", "steps", "epochs_completed"}) {
      INFO(key);
      CHECK(summary.contains(key));
    }
    CHECK(summary["status"] == "completed");
    CHECK(summary["diverged"] == false);
    CHECK(summary["steps"] == 24);
    CHECK(summary["final_test_acc"].get<double>() == Approx(result.final_test_acc));
    CHECK(summary["best_test_acc"].get<double>() >= summary["final_test_acc"].get<double>());
    CHECK(summary["train_images_per_s"].get<double>() > 0);
  }

  SECTION("config.yaml is the resolved config, overrides included, and loads back") {
    Config saved = load_config((dir / "config.yaml").string());
    CHECK(saved.name == "smoke");
    CHECK(saved.train.epochs == 3);
    CHECK(saved.root["model"]["layers"].size() == 6);
    CHECK(read_text((dir / "train.log").string()).find("epoch 3/3") != std::string::npos);
  }

  SECTION("the run is recorded in runs.db next to the run directory") {
    REQUIRE(fs::exists(tmp / "runs/runs.db"));
    RunStore store(tmp / "runs/runs.db");
    std::vector<RunRow> runs = store.runs();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].name == "smoke");
    CHECK(runs[0].run_dir == options.out_dir);
    CHECK(runs[0].status == "completed");
    CHECK_FALSE(runs[0].finished_at.empty());
    CHECK_THAT(runs[0].summary_json, Contains("final_test_acc"));
    CHECK_THAT(runs[0].config_yaml, Contains("conv2d"));
    std::vector<StepRow> steps = store.steps(runs[0].id);
    REQUIRE(steps.size() == 24);
    CHECK(steps.front().step == 0);
    CHECK(steps.back().step == 23);
    CHECK(steps.back().epoch == 3);
    CHECK(store.epochs(runs[0].id).size() == 3);
    CHECK(store.epochs(runs[0].id).back().test_acc == Approx(result.final_test_acc));
  }

  SECTION("training into a finished run directory again is refused") {
    CHECK_THROWS_WITH(train_run(config, options),
                      Contains("already holds a run") && Contains("--resume"));
  }
}

TEST_CASE("train: runs_db puts the database elsewhere and max_steps stops early", "[apps][train]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  Config config = config_from_yaml(
      YAML::Load(tiny_config_yaml(tmp / "data", "batch", 3, 0.05, "max_steps: 3")), "tiny.yaml");
  TrainOptions options;
  options.out_dir = tmp / "run";
  options.runs_db = tmp / "db/all.db";
  options.quiet = true;
  TrainResult result = train_run(config, options);
  CHECK(result.status == "completed");
  CHECK(read_lines(tmp / "run/metrics.csv").size() == 1 + 3);
  CHECK(read_json_file(tmp / "run/summary.json")["steps"] == 3);
  CHECK_FALSE(fs::exists(tmp / "runs.db"));
  RunStore store(tmp / "db/all.db");
  REQUIRE(store.runs().size() == 1);
  CHECK(store.steps(store.runs()[0].id).size() == 3);
}
