// An exception in the middle of a run (a checkpoint that cannot be written, here because a
// folder stands where the file goes) propagates unchanged, naming the file, and the run is
// recorded as "failed" with that error in summary.json and runs.db, not left "running".
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

TEST_CASE("train: a run that throws is recorded as failed, with the error, and rethrows it",
          "[apps][reliability]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 2));
  Config config = load_config(tmp / "tiny.yaml");
  const std::string run_dir = tmp / "runs/failing";
  // rename() cannot replace a folder with a file: the first checkpoint (end of epoch 1) fails.
  fs::create_directories(run_dir + "/checkpoint.safetensors");
  TrainOptions options;
  options.out_dir = run_dir;
  options.quiet = true;

  std::string error;
  try {
    train_run(config, options);
    FAIL("train_run returned although its checkpoint could not be written");
  } catch (const Error& e) {
    error = e.what();
  }
  INFO(error);
  CHECK_THAT(error, Contains(run_dir + "/checkpoint.safetensors") && Contains("Is a directory"));

  nlohmann::json summary = read_json_file(run_dir + "/summary.json");
  CHECK(summary["status"] == "failed");
  CHECK_THAT(summary["error"].get<std::string>(), Contains("checkpoint.safetensors"));
  CHECK(summary["steps"] == 2);  // 64 images / 32: the epoch's steps were done
  for (const auto& entry : fs::directory_iterator(run_dir))  // the failed write cleaned up
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);

  RunStore store(tmp / "runs/runs.db");
  std::vector<RunRow> runs = store.runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "failed");
  CHECK_FALSE(runs[0].finished_at.empty());
  CHECK_THAT(runs[0].summary_json, Contains("Is a directory"));
  CHECK(store.steps(runs[0].id).size() == 2);  // the steps before the failure are kept
  CHECK_THAT(read_text(run_dir + "/train.log"), Contains("[error] the run failed at step 2"));
}
