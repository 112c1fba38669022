// Divergence: a run whose loss becomes NaN/inf stops cleanly with status "diverged" and the
// step, returns normally (a comparison goes on to its next variant), and reports show it.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/config.h"
#include "apps/report.h"
#include "apps/run_files.h"
#include "apps/run_store.h"
#include "apps/trainer.h"
#include "core/safetensors.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {
// These runs test the NaN/inf stop, so divergence_factor (a finite blow-up caught earlier:
// test_failure_modes.cpp) is off.
TrainResult train_diverging(const TempDir& tmp, const std::string& name, const std::string& extra) {
  const std::string train = "divergence_factor: 0" + (extra.empty() ? "" : ", " + extra);
  Config config = config_from_yaml(
      YAML::Load(tiny_config_yaml(tmp / "data", "none", 2, 1e4, train)), "tiny.yaml");
  TrainOptions options;
  options.out_dir = tmp / ("runs/" + name);
  options.quiet = true;
  TrainResult result;
  REQUIRE_NOTHROW(result = train_run(config, options));
  return result;
}
}  // namespace

TEST_CASE("divergence: a huge learning rate stops the run with status diverged",
          "[apps][divergence]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 32);
  TrainResult result = train_diverging(tmp, "blowup", "");
  CHECK(result.status == "diverged");
  CHECK(result.diverged);
  CHECK(result.diverged_step >= 1);  // the first step's loss is still finite
  CHECK(result.diverged_step < 8);
  CHECK_THAT(result.diverged_reason, Contains("loss"));

  const std::string dir = tmp / "runs/blowup";
  // metrics.csv ends with the step whose loss was not finite.
  std::vector<std::string> metrics = read_lines(dir + "/metrics.csv");
  REQUIRE(metrics.size() == static_cast<size_t>(result.diverged_step) + 2);
  std::vector<std::string> last = split_csv(metrics.back());
  CHECK(std::stoll(last[1]) == result.diverged_step);
  CHECK_FALSE(std::isfinite(std::stod(last[3])));

  nlohmann::json summary = read_json_file(dir + "/summary.json");
  CHECK(summary["status"] == "diverged");
  CHECK(summary["diverged"] == true);
  CHECK(summary["diverged_step"] == result.diverged_step);
  CHECK_THAT(summary["diverged_reason"].get<std::string>(), Contains("loss"));

  // No checkpoint holds non-finite weights.
  if (fs::exists(dir + "/checkpoint.safetensors"))
    for (const auto& [name, t] : load_safetensors(dir + "/checkpoint.safetensors").tensors)
      if (t.dtype() == DType::Float32)
        for (float v : t.to_vector()) REQUIRE(std::isfinite(v));

  RunStore store(tmp / "runs/runs.db");
  REQUIRE(store.runs().size() == 1);
  CHECK(store.runs()[0].status == "diverged");
  CHECK(store.steps(store.runs()[0].id).size() == static_cast<size_t>(result.diverged_step) + 1);

  // A report shows it in the diverged column.
  std::vector<RunReport> runs = read_runs({dir});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].diverged);
  CHECK(runs[0].diverged_step == result.diverged_step);
  CHECK_THAT(comparison_table(runs),
             Contains("| blowup | none |") &&
                 Contains("yes, step " + std::to_string(result.diverged_step)));
}

TEST_CASE("divergence: nan_check every_step stops no later than the loss check",
          "[apps][divergence]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 32);
  TrainResult by_loss = train_diverging(tmp, "by_loss", "");
  TrainResult every = train_diverging(tmp, "every", "nan_check: every_step");
  CHECK(every.status == "diverged");
  CHECK(every.diverged_step >= 0);
  CHECK(every.diverged_step <= by_loss.diverged_step);
  CHECK_FALSE(every.diverged_reason.empty());
}

TEST_CASE("divergence: gradient clipping keeps the same run finite", "[apps][divergence]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 32);
  // lr 1e4 with gradients clipped to norm 1e-5: each step moves the weights by at most 0.1.
  TrainResult clipped = train_diverging(tmp, "clipped", "clip_grad_norm: 1.0e-5");
  CHECK(clipped.status == "completed");
  CHECK_FALSE(clipped.diverged);
}
