// The study: experiment files with a claim run as compare would, each judged against its seed
// spread into a results page; a second invocation reuses the finished runs, and a bad claim
// is refused before anything trains.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/experiment.h"
#include "apps/report.h"
#include "apps/report_seeds.h"
#include "apps/run_files.h"
#include "apps/study.h"
#include "apps/study_claim.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

std::string write_study_file(const TempDir& tmp, const std::string& name,
                             const std::string& claim) {
  write_tiny_cifar(tmp / "data", 128, 64);
  write_text(tmp / "models/base.yaml", tiny_config_yaml(tmp / "data", "batch", 1));
  const std::string path = tmp / ("study/" + name + ".yaml");
  write_text(path, "name: " + name +
                       "\n"
                       "base: ../models/base.yaml\n"
                       "seeds: [0, 1]\n"
                       "variants:\n"
                       "  - {name: bn,    set: {model.norm: batch}}\n"
                       "  - {name: plain, set: {model.norm: none}}\n" +
                       claim);
  return path;
}

const char* const kAccuracyClaim =
    "claim:\n"
    "  title: BN reaches a higher accuracy\n"
    "  statement: with BN the tiny net ends with a higher test accuracy\n"
    "  measure: final_test_acc\n"
    "  better: higher\n"
    "  why: the tiny net is a fixture, not a finding\n";

// A variant's mtime of summary.json: a reused run keeps it.
fs::file_time_type summary_time(const std::string& runs, const std::string& variant) {
  return fs::last_write_time(fs::path(runs) / "accuracy" / variant / "summary.json");
}

// Runs and pages under `tmp`, nothing printed.
StudyOptions scratch_options(const TempDir& tmp) {
  StudyOptions options;
  options.out_dir = tmp / "runs";
  options.results_dir = tmp / "results";
  options.quiet = true;
  return options;
}

}  // namespace

TEST_CASE("study: a claim's runs become a page with a verdict from the seed spread",
          "[apps][study]") {
  TempDir tmp;
  write_study_file(tmp, "accuracy", kAccuracyClaim);
  StudyOptions options = scratch_options(tmp);
  REQUIRE(run_study({tmp / "study"}, options) == 1);

  const std::string page = read_text(tmp / "results/accuracy.md");
  INFO(page);
  CHECK_THAT(page, Contains("# BN reaches a higher accuracy"));
  CHECK_THAT(page, Contains("**Verdict: "));
  CHECK_THAT(page,
             Contains("bn (batch) against plain (none), final test accuracy over 2 and 2 seeds"));
  CHECK_THAT(page, Contains("## Results over seeds (mean [min, max])"));
  CHECK_THAT(page, Contains("the tiny net is a fixture"));
  CHECK_THAT(page, Contains("```yaml\nname: accuracy"));
  // The verdict is the one the runs give.
  std::vector<std::string> dirs;
  for (const char* v : {"bn-seed0", "bn-seed1", "plain-seed0", "plain-seed1"})
    dirs.push_back(options.out_dir + "/accuracy/" + v);
  std::vector<RunReport> runs = read_runs(dirs);
  Claim claim = read_claim(tmp / "study/accuracy.yaml");
  const ClaimVerdict verdict = judge_claim(claim, group_by_variant(runs));
  CHECK_THAT(page, Contains("**Verdict: " + verdict.word + "**"));

  const nlohmann::json headline = read_json_file(tmp / "results/accuracy.json");
  CHECK(headline["verdict"] == verdict.word);
  CHECK(headline["runs"] == 4);
  CHECK_THAT(read_text(tmp / "results/README.md"),
             Contains("[BN reaches a higher accuracy](accuracy.md) | " + verdict.word));

  // Run again: nothing trains anew (every summary untouched), the page is written again.
  const auto before = summary_time(options.out_dir, "bn-seed1");
  REQUIRE(run_study({tmp / "study/accuracy.yaml"}, options) == 1);
  CHECK(summary_time(options.out_dir, "bn-seed1") == before);
  // A changed budget is another config: that variant trains again.
  options.overrides = {"train.max_steps=2"};
  REQUIRE(run_study({tmp / "study/accuracy.yaml"}, options) == 1);
  CHECK(summary_time(options.out_dir, "bn-seed1") != before);
  CHECK_THAT(read_text(tmp / "results/accuracy.md"), Contains("`--set train.max_steps=2`"));
}

TEST_CASE("study: verdicts need two seeds and a twin, and follow the measure's direction",
          "[apps][study]") {
  auto run = [](const char* name, const char* norm, double acc, int64_t epochs) {
    RunReport r;
    r.name = r.variant = r.seedless = name;
    r.norm = norm;
    r.seedless_signature = "same";
    r.final_test_acc = acc;
    r.epochs_to_threshold = epochs;
    return r;
  };
  std::vector<RunReport> runs = {run("bn", "batch", 0.6, 1), run("bn", "batch", 0.62, 2),
                                 run("plain", "none", 0.5, 3), run("plain", "none", 0.55, -1)};
  Claim accuracy{"t", "s", "", {"final_test_acc", true}, "none", ""};
  CHECK(judge_claim(accuracy, group_by_variant(runs)).word == "holds");
  Claim lower_acc{"t", "s", "", {"final_test_acc", false}, "none", ""};
  CHECK(judge_claim(lower_acc, group_by_variant(runs)).word == "does not hold");
  // Never reaching the threshold counts as the worst: plain's range is [3, never].
  Claim faster{"t", "s", "", {"epochs_to_threshold", false}, "none", ""};
  CHECK(judge_claim(faster, group_by_variant(runs)).word == "holds");
  runs[1].final_test_acc = 0.52;  // bn [0.52, 0.6] overlaps plain [0.5, 0.55]
  const ClaimVerdict overlapping = judge_claim(accuracy, group_by_variant(runs));
  CHECK(overlapping.word == "does not hold");
  CHECK_THAT(overlapping.reason, Contains("no pair differs beyond the seed spread"));
  // Against another baseline norm: BN against GroupNorm, the plain twin left out.
  std::vector<RunReport> with_group = runs;
  for (RunReport& r : with_group)
    if (r.norm == "none") r.norm = "group";
  Claim against_group{"t", "s", "", {"final_test_acc", true}, "group", ""};
  const ClaimVerdict group_verdict = judge_claim(against_group, group_by_variant(with_group));
  REQUIRE(group_verdict.pairs.size() == 1);
  CHECK_THAT(group_verdict.pairs[0], Contains("bn (batch) against plain (group)"));
  CHECK(judge_claim(against_group, group_by_variant(runs)).word == "no verdict");
  std::vector<RunReport> one_seed = {runs[0], runs[2]};
  const ClaimVerdict single = judge_claim(accuracy, group_by_variant(one_seed));
  CHECK(single.word == "no verdict");
  CHECK_THAT(single.reason, Contains("one seed"));
}

TEST_CASE("study: a file without a valid claim is refused before anything trains",
          "[apps][study]") {
  TempDir tmp;
  StudyOptions options = scratch_options(tmp);
  write_study_file(tmp, "good", kAccuracyClaim);
  write_study_file(tmp, "bad",
                   "claim:\n  title: t\n  statement: s\n  measure: speed\n  better: higher\n");
  CHECK_THROWS_WITH(run_study({tmp / "study"}, options),
                    Contains("bad.yaml.claim.measure") && Contains("unknown measure 'speed'"));
  CHECK_FALSE(fs::exists(tmp / "runs"));
  write_study_file(tmp, "bad", "");
  CHECK_THROWS_WITH(run_study({tmp / "study"}, options),
                    Contains("bad.yaml: a study file needs a 'claim:'"));
  write_study_file(tmp, "bad",
                   "claim:\n  title: t\n  statement: s\n  measure: final_test_acc\n  better: up\n");
  CHECK_THROWS_WITH(run_study({tmp / "study"}, options),
                    Contains("bad.yaml.claim.better: expected higher or lower"));
  write_study_file(tmp, "bad",
                   "claim:\n  statement: s\n  measure: final_test_acc\n  better: higher\n");
  CHECK_THROWS_WITH(run_study({tmp / "study"}, options),
                    Contains("bad.yaml.claim.title: required"));
}

TEST_CASE("study: a claim judged against a named variant pairs runs whose layer lists differ",
          "[apps][study]") {
  // Two placements of BN: both norm batch, different configs, so no twin by signature.
  auto run = [](const char* name, const char* signature, double acc) {
    RunReport r;
    r.name = r.variant = r.seedless = name;
    r.norm = "batch";
    r.seedless_signature = signature;
    r.final_test_acc = acc;
    return r;
  };
  std::vector<RunReport> runs = {run("bn_relu", "before", 0.60), run("bn_relu", "before", 0.62),
                                 run("relu_bn", "after", 0.50), run("relu_bn", "after", 0.55)};
  Claim by_norm{"t", "s", "", {"final_test_acc", true}, "none", ""};
  CHECK(judge_claim(by_norm, group_by_variant(runs)).word == "no verdict");  // no twin
  Claim by_name{"t", "s", "", {"final_test_acc", true}, "none", "relu_bn"};
  const ClaimVerdict verdict = judge_claim(by_name, group_by_variant(runs));
  CHECK(verdict.word == "holds");
  CHECK_THAT(verdict.reason, Contains("every variant is better than relu_bn"));
  REQUIRE(verdict.pairs.size() == 1);
  CHECK_THAT(verdict.pairs[0], Contains("bn_relu (batch) against relu_bn (batch)"));
  // The other way round it loses beyond the spread; overlapping ranges do not hold either.
  by_name.baseline_variant = "bn_relu";
  CHECK(judge_claim(by_name, group_by_variant(runs)).word == "does not hold");
  runs[3].final_test_acc = 0.61;  // relu_bn [0.50, 0.61] overlaps bn_relu [0.60, 0.62]
  CHECK(judge_claim(by_name, group_by_variant(runs)).word == "does not hold");
  by_name.baseline_variant = "elsewhere";
  CHECK_THAT(judge_claim(by_name, group_by_variant(runs)).reason,
             Contains("no runs of the baseline variant 'elsewhere'"));
}

TEST_CASE("study: baseline_variant is read, must name a variant, and excludes baseline",
          "[apps][study]") {
  TempDir tmp;
  StudyOptions options = scratch_options(tmp);
  const std::string claim_head =
      "claim:\n  title: t\n  statement: s\n  measure: final_test_acc\n  better: higher\n";
  const std::string path =
      write_study_file(tmp, "named", claim_head + "  baseline_variant: plain\n");
  CHECK(read_claim(path).baseline_variant == "plain");
  write_study_file(tmp, "named", claim_head + "  baseline_variant: relu_bn\n");
  CHECK_THROWS_WITH(run_study({tmp / "study"}, options),
                    Contains("named.yaml.claim.baseline_variant: no variant is named 'relu_bn'") &&
                        Contains("'bn', 'plain'"));
  CHECK_FALSE(fs::exists(tmp / "runs"));
  write_study_file(tmp, "named", claim_head + "  baseline: none\n  baseline_variant: plain\n");
  CHECK_THROWS_WITH(read_claim(path), Contains("either baseline") && Contains("not both"));
}

TEST_CASE("study: every shipped study file reads as an experiment with a valid claim",
          "[apps][study]") {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(CNNLAB_SOURCE_DIR "/configs/study")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    const Experiment experiment = load_experiment(entry.path().string());
    const Claim claim = read_claim(entry.path().string());
    CHECK_NOTHROW(check_claim_pairs(claim, experiment, entry.path().string()));
    ++files;
  }
  CHECK(files >= 5);
}
