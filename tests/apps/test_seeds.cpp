// Seeds and spread: an experiment's `seeds:` runs every variant once per seed, and the report
// shows each variant's mean and [min, max] over them, with a verdict only beyond the spread.
#include <catch2/catch.hpp>

#include <filesystem>

#include "apps/compare.h"
#include "apps/experiment.h"
#include "apps/report.h"
#include "apps/report_seeds.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {
std::string write_seeded_experiment(const TempDir& tmp, const std::string& seeds) {
  write_tiny_cifar(tmp / "data", 128, 64);
  write_text(tmp / "models/base.yaml", tiny_config_yaml(tmp / "data", "batch", 1));
  const std::string path = tmp / "experiments/seeded.yaml";
  write_text(path,
             "name: seeded\n"
             "base: ../models/base.yaml\n"
             "seeds: " + seeds + "\n"
             "variants:\n"
             "  - {name: bn,    set: {model.norm: batch}}\n"
             "  - {name: plain, set: {model.norm: none}}\n");
  return path;
}
}  // namespace

TEST_CASE("seeds: every variant runs once per seed, named <variant>-seed<k>", "[apps][seeds]") {
  TempDir tmp;
  Experiment e = load_experiment(write_seeded_experiment(tmp, "[0, 7]"));
  REQUIRE(e.variants.size() == 4);
  CHECK(e.variants[0].name == "bn-seed0");
  CHECK(e.variants[1].name == "bn-seed7");
  CHECK(e.variants[1].group == "bn");
  CHECK(e.variants[1].config.seed == 7);
  CHECK(e.variants[3].name == "plain-seed7");
  CHECK_THROWS_WITH(load_experiment(write_seeded_experiment(tmp, "[1, 1]")),
                    Contains("seeded.yaml.seeds[1]") && Contains("listed twice"));
  CHECK_THROWS_WITH(load_experiment(write_seeded_experiment(tmp, "[]")),
                    Contains(".seeds: expected a non-empty list"));
}

TEST_CASE("seeds: the report gives mean and spread per variant and a verdict", "[apps][seeds]") {
  TempDir tmp;
  CompareOptions options;
  options.out_dir = tmp / "runs/seeded";
  options.quiet = true;
  const std::string report_path = run_comparison(write_seeded_experiment(tmp, "[0, 1]"), options);
  std::vector<std::string> dirs;
  for (const char* name : {"bn-seed0", "bn-seed1", "plain-seed0", "plain-seed1"})
    dirs.push_back(options.out_dir + "/" + name);
  std::vector<RunReport> runs = read_runs(dirs);
  std::vector<VariantRuns> variants = group_by_variant(runs);
  REQUIRE(variants.size() == 2);
  CHECK(variants[0].variant == "bn");
  CHECK(variants[0].runs.size() == 2);
  CHECK(variants[1].norm == "none");

  const std::string table = comparison_table(runs);
  INFO(table);
  CHECK_THAT(table, Contains("Over seeds (mean [min, max])"));
  CHECK_THAT(table, Contains("| bn | batch | 2 | ") && Contains("| plain | none | 2 | "));
  CHECK_THAT(table, Contains("- bn (batch) against plain (none), final test accuracy over 2 and 2 seeds: "));
  // The verdict follows from the ranges.
  double bn_min = 1, bn_max = 0, plain_min = 1, plain_max = 0;
  for (const RunReport& r : runs) {
    double& low = r.norm == "none" ? plain_min : bn_min;
    double& high = r.norm == "none" ? plain_max : bn_max;
    low = std::min(low, r.final_test_acc);
    high = std::max(high, r.final_test_acc);
  }
  const char* expected = bn_min > plain_max   ? "holds"
                         : bn_max < plain_min ? "does not hold"
                                              : "within the seed spread";
  CHECK_THAT(table, Contains(expected));
  CHECK_THAT(read_text(report_path), Contains("Over seeds"));
}
