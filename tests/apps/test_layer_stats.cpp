// Layer statistics: with train.layer_stats_every: N, layer_stats.csv (and runs.db) hold, for
// exactly the steps 0, N, 2N, ..., each layer's activation mean and std and each parameter's
// gradient norm; the report then draws activation_std.png and grad_norm.png.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "apps/config.h"
#include "apps/layer_stats.h"
#include "apps/model_setup.h"
#include "apps/report.h"
#include "apps/report_plots.h"
#include "apps/run_store.h"
#include "apps/trainer.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

TEST_CASE("layer stats: recorded at exactly the requested steps for every layer",
          "[apps][layer_stats]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 160, 32);  // 5 steps per epoch: 10 steps in all
  Config config = config_from_yaml(
      YAML::Load(tiny_config_yaml(tmp / "data", "batch", 2, 0.05, "layer_stats_every: 2")),
      "tiny.yaml");
  TrainOptions options;
  options.out_dir = tmp / "runs/stats";
  options.quiet = true;
  REQUIRE(train_run(config, options).status == "completed");

  std::vector<std::string> lines = read_lines(tmp / "runs/stats/layer_stats.csv");
  REQUIRE(lines.size() > 1);
  CHECK(lines[0] == "step,layer,kind,value");
  // step -> kind -> names seen
  std::map<int64_t, std::map<std::string, std::set<std::string>>> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = split_csv(lines[i]);
    REQUIRE(fields.size() == 4);
    seen[std::stoll(fields[0])][fields[2]].insert(fields[1]);
    CHECK(std::isfinite(std::stod(fields[3])));
    if (fields[2] != "activation_mean") CHECK(std::stod(fields[3]) >= 0.0);
  }
  std::set<int64_t> steps;
  for (const auto& [step, kinds] : seen) steps.insert(step);
  CHECK(steps == std::set<int64_t>{0, 2, 4, 6, 8});

  const std::set<std::string> layers{"0.conv2d",    "1.batchnorm2d", "2.relu",
                                     "3.maxpool2d", "4.flatten",     "5.linear"};
  const std::set<std::string> parameters{"0.weight", "1.weight", "1.bias", "5.weight", "5.bias"};
  for (const auto& [step, kinds] : seen) {
    INFO("step " << step);
    CHECK(kinds.size() == 3);
    CHECK(kinds.at("activation_mean") == layers);
    CHECK(kinds.at("activation_std") == layers);
    CHECK(kinds.at("grad_norm") == parameters);
  }

  // The same rows in the run database.
  RunStore store(tmp / "runs/runs.db");
  REQUIRE(store.runs().size() == 1);
  std::vector<LayerStatRow> rows = store.layer_stats(store.runs()[0].id);
  CHECK(rows.size() == lines.size() - 1);
  CHECK(rows.front().step == 0);
  CHECK(rows.back().step == 8);

  // The report adds the two per-layer plots.
  std::vector<RunReport> runs = read_runs({tmp / "runs/stats"});
  std::string report = read_text(write_report(runs, tmp / "report", "stats"));
  CHECK_THAT(report, Contains("](plots/activation_std.png)") && Contains("](plots/grad_norm.png)"));
  CHECK(fs::file_size(tmp / "report/plots/stats_activation_std.dat") > 0);
  CHECK(fs::file_size(tmp / "report/plots/stats_grad_norm.dat") > 0);
  if (gnuplot_available()) {
    CHECK(is_png(tmp / "report/plots/activation_std.png"));
    CHECK(is_png(tmp / "report/plots/grad_norm.png"));
  } else {
    WARN("gnuplot is not installed: PNG plots not checked");
  }
}

TEST_CASE("layer stats: off by default and no plots for them in the report",
          "[apps][layer_stats]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  Config config =
      config_from_yaml(YAML::Load(tiny_config_yaml(tmp / "data", "batch", 1)), "tiny.yaml");
  TrainOptions options;
  options.out_dir = tmp / "runs/plain";
  options.quiet = true;
  REQUIRE(train_run(config, options).status == "completed");
  CHECK_FALSE(fs::exists(tmp / "runs/plain/layer_stats.csv"));
  std::string report =
      read_text(write_report(read_runs({tmp / "runs/plain"}), tmp / "report", "x"));
  CHECK_THAT(report, !Contains("activation_std.png"));
}

TEST_CASE("layer stats: a recorded step runs unfused and leaves the model fused again",
          "[apps][layer_stats]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  Config config = config_from_yaml(YAML::Load(tiny_config_yaml(tmp / "data")), "tiny.yaml");
  std::shared_ptr<Sequential> model =
      build_model_from_config(config, parse_data_config(config.root["data"], "data"));
  REQUIRE(fuse_for_run(*model) > 0);
  LayerStatsRecorder stats;
  stats.attach(*model, 0);
  CHECK_FALSE(model->fused());
  Generator generator(1);
  Tensor logits = model->forward(randn({2, 3, 32, 32}, generator));
  stats.detach(*model);
  CHECK(model->fused());
  // One mean and one std for every top-level layer.
  CHECK(stats.take_recent().size() == 2 * model->size());
}
