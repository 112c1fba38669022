// Failure modes are named: a loss that blows up past train.divergence_factor times its first
// value stops the run as diverged before it reaches inf, and a network left predicting one
// class (or at chance) through the last epoch is reported collapsed, with the step it began by.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/config.h"
#include "apps/report.h"
#include "apps/run_files.h"
#include "apps/trainer.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

TrainResult train_tiny(TempDir& tmp, const std::string& name, double lr,
                       const std::vector<std::string>& overrides) {
  write_tiny_cifar(tmp / "data", 128, 64);
  write_text(tmp / (name + ".yaml"), tiny_config_yaml(tmp / "data", "none", 3, lr));
  TrainOptions options;
  options.out_dir = tmp / ("runs/" + name);
  options.quiet = true;
  return train_run(load_config(tmp / (name + ".yaml"), overrides), options);
}

}  // namespace

TEST_CASE("a loss past divergence_factor times the first is a divergence, with its step",
          "[apps][failure]") {
  TempDir tmp;
  TrainResult result = train_tiny(tmp, "blowup", 5.0, {});
  CHECK(result.status == "diverged");
  CHECK(result.diverged);
  CHECK_THAT(result.diverged_reason, Contains("exceeds") && Contains("divergence_factor"));
  CHECK(result.diverged_step > 0);
  CHECK(result.diverged_step < 8);  // within the first two epochs (4 steps each)
  const nlohmann::json summary = read_json_file(result.run_dir + "/summary.json");
  CHECK(summary["diverged"] == true);
  CHECK(summary["diverged_step"] == result.diverged_step);
  // The table names it.
  CHECK_THAT(comparison_table(read_runs({result.run_dir})),
             Contains("yes, step " + std::to_string(result.diverged_step)));
}

TEST_CASE("divergence_factor 0 lets a blown-up net run on, and it is reported collapsed",
          "[apps][failure]") {
  TempDir tmp;
  TrainResult result = train_tiny(tmp, "dead", 5.0, {"train.divergence_factor=0"});
  INFO("status " << result.status << ", reason " << result.diverged_reason << ", final acc "
                 << result.final_test_acc);
  REQUIRE(result.status == "completed");
  CHECK(result.collapsed);
  CHECK(result.collapsed_step >= 0);
  CHECK_FALSE(result.collapse_reason.empty());
  const nlohmann::json summary = read_json_file(result.run_dir + "/summary.json");
  CHECK(summary["collapsed"] == true);
  CHECK(summary["collapsed_step"] == result.collapsed_step);
  CHECK_THAT(comparison_table(read_runs({result.run_dir})),
             Contains("yes, by step " + std::to_string(result.collapsed_step)));
}

TEST_CASE("a run that learns is neither diverged nor collapsed", "[apps][failure]") {
  TempDir tmp;
  TrainResult result = train_tiny(tmp, "fine", 0.05, {"model.norm=batch"});
  CHECK(result.status == "completed");
  CHECK_FALSE(result.diverged);
  CHECK_FALSE(result.collapsed);
  CHECK(read_json_file(result.run_dir + "/summary.json")["collapsed"] == false);
}

TEST_CASE("train.divergence_factor must be 0 or above 1", "[apps][failure]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  write_text(tmp / "c.yaml", tiny_config_yaml(tmp / "data"));
  CHECK_THROWS_WITH(load_config(tmp / "c.yaml", {"train.divergence_factor=0.5"}),
                    Contains("train.divergence_factor") && Contains("above 1"));
}
