// compare and report: an experiment's variants each get a run directory, and report.md holds
// the comparison table (every column), PNG plots when gnuplot is installed or a clear note
// when it is not; a diverged variant shows its step; report works on finished run folders.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/compare.h"
#include "apps/report.h"
#include "apps/report_plots.h"
#include "apps/run_files.h"
#include "apps/run_store.h"
#include "core/error.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// bn vs plain at the same lr, and a plain run at lr 1e4 that diverges.
std::string write_experiment(const TempDir& tmp) {
  write_tiny_cifar(tmp / "data", 128, 64);
  write_text(tmp / "models/base.yaml", tiny_config_yaml(tmp / "data", "batch", 2));
  std::string path = tmp / "experiments/norms.yaml";
  write_text(path,
             "name: norms\n"
             "base: ../models/base.yaml\n"
             "variants:\n"
             "  - {name: bn,    set: {model.norm: batch}}\n"
             "  - {name: plain, set: {model.norm: none}}\n"
             "  - {name: blowup, set: {model.norm: none, optim.lr: 1.0e4}}\n");
  return path;
}

// Runs with $PATH emptied, so that no `gnuplot` can be found.
struct NoPath {
  std::string saved;
  NoPath() : saved(std::getenv("PATH") ? std::getenv("PATH") : "") {
    ::setenv("PATH", "/nonexistent", 1);
  }
  ~NoPath() { ::setenv("PATH", saved.c_str(), 1); }
};

std::string table_row(const std::string& report, const std::string& name) {
  size_t at = report.find("| " + name + " |");
  if (at == std::string::npos) return "";
  return report.substr(at, report.find('\n', at) - at);
}

}  // namespace

TEST_CASE("compare: runs every variant and writes the report with every column",
          "[apps][compare]") {
  TempDir tmp;
  std::string experiment = write_experiment(tmp);
  CompareOptions options;
  options.out_dir = tmp / "runs/norms";
  options.quiet = true;
  std::string report_path = run_comparison(experiment, options);
  CHECK(report_path == tmp / "runs/norms/report.md");
  REQUIRE(fs::exists(report_path));

  for (const char* variant : {"bn", "plain", "blowup"}) {
    INFO(variant);
    CHECK(fs::exists(fs::path(options.out_dir) / variant / "summary.json"));
  }
  RunStore store(tmp / "runs/runs.db");  // next to the comparison's folder
  std::vector<RunRow> rows = store.runs();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].status == "completed");
  CHECK(rows[1].status == "completed");
  CHECK(rows[2].status == "diverged");

  std::string report = read_text(report_path);
  CHECK_THAT(report, Contains("# Experiment norms"));
  CHECK_THAT(report,
             Contains("| variant | norm | final test acc | best test acc | epochs to 50.00% "
                      "| diverged | collapsed | step time (ms) | images/s | norm overhead | "
                      "train-test gap |"));
  std::string bn = table_row(report, "bn"), plain = table_row(report, "plain"),
              blowup = table_row(report, "blowup");
  INFO(report);
  // Eleven cells each: | name | norm | final | best | epochs to | diverged | collapsed | ms |
  // img/s | overhead | gap |
  for (const std::string& row : {bn, plain, blowup})
    CHECK(std::count(row.begin(), row.end(), '|') == 12);
  CHECK_THAT(
      bn, Contains("| bn | batch |") && Contains("| no |") && Contains("%") && Contains(" pts |"));
  CHECK((bn.find("| +") != std::string::npos || bn.find("| -") != std::string::npos));  // overhead
  CHECK_THAT(plain, Contains("| plain | none |") && Contains("(baseline)"));
  nlohmann::json blowup_summary = read_json_file(tmp / "runs/norms/blowup/summary.json");
  const std::string blowup_step = std::to_string(blowup_summary["diverged_step"].get<int64_t>());
  CHECK_THAT(blowup, Contains("| blowup | none |") &&
                         Contains("| yes, step " + blowup_step + " |") && Contains("never"));
  // Per-run epoch tables.
  CHECK_THAT(report, Contains("### bn (completed)") && Contains("### blowup (diverged)"));

  if (gnuplot_available()) {
    for (const char* plot : {"plots/loss_accuracy.png", "plots/step_loss.png"}) {
      INFO(plot);
      CHECK(is_png(tmp / ("runs/norms/" + std::string(plot))));
    }
    CHECK_THAT(report,
               Contains("](plots/loss_accuracy.png)") && Contains("](plots/step_loss.png)"));
    CHECK_THAT(report, !Contains("gnuplot is not installed") && !Contains("gnuplot failed"));
  } else {
    WARN("gnuplot is not installed: PNG plots not checked");
    CHECK_THAT(report, Contains("gnuplot is not installed"));
  }
  CHECK(fs::exists(tmp / "runs/norms/plots/plots.gp"));
  CHECK(fs::exists(tmp / "runs/norms/plots/bn_epochs.dat"));
}

TEST_CASE("report: over finished run directories with a note when gnuplot is missing",
          "[apps][compare]") {
  TempDir tmp;
  std::string experiment = write_experiment(tmp);
  CompareOptions options;
  options.out_dir = tmp / "runs/norms";
  options.quiet = true;
  run_comparison(experiment, options);

  std::vector<RunReport> runs = read_runs({tmp / "runs/norms/bn", tmp / "runs/norms/plain"});
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].name == "bn");
  CHECK(runs[0].norm == "batch");
  CHECK(runs[0].has_baseline);  // paired with plain: the same config but for model.norm
  CHECK(runs[1].norm == "none");
  CHECK(runs[0].epochs.size() == 2);
  CHECK(runs[0].final_test_acc > 0.3);

  {
    NoPath no_gnuplot;
    REQUIRE_FALSE(gnuplot_available());
    std::string path = write_report(runs, tmp / "report", "two runs");
    CHECK(path == tmp / "report/report.md");
    std::string report = read_text(path);
    CHECK_THAT(report, Contains("# two runs") && Contains("| bn | batch |") &&
                           Contains("gnuplot is not installed") && Contains("apt-get install"));
    CHECK_FALSE(fs::exists(tmp / "report/plots/loss_accuracy.png"));
    CHECK(fs::exists(tmp / "report/plots/plots.gp"));  // to draw them later
  }
  if (gnuplot_available()) {
    std::string path = write_report(runs, tmp / "report2", "two runs");
    CHECK(is_png(tmp / "report2/plots/loss_accuracy.png"));
    CHECK(is_png(tmp / "report2/plots/step_loss.png"));
  }
}

TEST_CASE("report: a folder without summary.json is a clear error", "[apps][compare]") {
  TempDir tmp;
  fs::create_directories(tmp / "not_a_run");
  CHECK_THROWS_WITH(read_runs({tmp / "not_a_run"}),
                    Contains("not_a_run") && Contains("no summary.json"));
  CHECK_THROWS_WITH(read_runs({}), Contains("no run directories"));
}

TEST_CASE("report: a summary.json that is not a JSON object is a clear error", "[apps][compare]") {
  TempDir tmp;
  fs::create_directories(tmp / "torn");
  write_text(tmp / "torn/summary.json", "{\"status\": \"comp");
  CHECK_THROWS_WITH(read_runs({tmp / "torn"}),
                    Contains("torn/summary.json' is not valid JSON") && Contains("parse error"));
  fs::create_directories(tmp / "list");
  write_text(tmp / "list/summary.json", "[1, 2]\n");
  CHECK_THROWS_WITH(read_runs({tmp / "list"}),
                    Contains("list/summary.json' is not a JSON object"));
  // Read by type: a null accuracy (a non-finite value) and a missing key are n/a.
  fs::create_directories(tmp / "partial");
  const std::string store = tmp / "runs.db";
  const int64_t run_id = RunStore(store).begin_run("partial", tmp / "partial", "", "2026-01-01");
  write_text(tmp / "partial/summary.json",
             "{\"status\": \"diverged\", \"diverged\": true, \"diverged_step\": 7,"
             " \"final_test_acc\": null, \"store\": \"" + store + "\", \"run_id\": " +
                 std::to_string(run_id) + "}\n");
  std::vector<RunReport> runs = read_runs({tmp / "partial"});
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "diverged");
  CHECK(runs[0].diverged);
  CHECK(runs[0].diverged_step == 7);
  CHECK(std::isnan(runs[0].final_test_acc));
  CHECK(std::isnan(runs[0].best_test_acc));
}
