// Fine-tuning in experiments and studies: train.init_from loads weights and BN statistics
// (from a checkpoint, a state file or a run folder) but not the optimizer state or step;
// `variant:NAME` names an earlier variant's final checkpoint of the same seed, resolved by
// compare; an unknown or later variant is an error naming the file and key; a fine-tune run
// resumes without its source; a claim can judge only some variants (`judged:`).
#include <catch2/catch.hpp>
#include <filesystem>

#include "apps/compare.h"
#include "apps/config.h"
#include "apps/experiment.h"
#include "apps/report.h"
#include "apps/report_seeds.h"
#include "apps/run_files.h"
#include "apps/study_claim.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tests/apps/tiny_cifar.h"
#include "tests/same_values.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

bool same_files(const std::string& a, const std::string& b) {
  const SafetensorsFile x = load_safetensors(a), y = load_safetensors(b);
  if (x.tensors.size() != y.tensors.size()) return false;
  for (size_t i = 0; i < x.tensors.size(); ++i)
    if (x.tensors[i].first != y.tensors[i].first ||
        !same_values(x.tensors[i].second, y.tensors[i].second))
      return false;
  return true;
}

TrainResult train(const Config& config, const std::string& out, const std::string& resume = "") {
  TrainOptions options;
  options.out_dir = out;
  options.resume_dir = resume;
  options.quiet = true;
  return train_run(config, options);
}

Config tiny(const std::string& data, const std::string& extra, double lr = 0.05,
            const std::string& norm = "batch") {
  return config_from_yaml(YAML::Load(tiny_config_yaml(data, norm, 1, lr, extra)), "tiny.yaml");
}

// pretrain on classes 0-4, then variants on 5-9 starting from it (`finetune` lines given).
std::string write_finetune_file(const TempDir& tmp, const std::string& variants) {
  write_tiny_cifar(tmp / "data", 160, 64);
  write_text(tmp / "models/base.yaml", tiny_config_yaml(tmp / "data", "batch", 1));
  const std::string path = tmp / "study/finetune.yaml";
  write_text(path,
             "base: ../models/base.yaml\n"
             "seeds: [0, 1]\n"
             "variants:\n"
             "  - {name: pretrain, set: {data.classes: [0, 1, 2, 3, 4]}}\n" +
                 variants);
  return path;
}

}  // namespace

TEST_CASE("init_from: weights and BN statistics, not the optimizer state or the step",
          "[apps][init_from]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  REQUIRE(train(tiny(tmp / "data", "epochs: 2"), tmp / "source").status == "completed");
  const std::string source = tmp / "source/checkpoint.safetensors";
  // Frozen BN and lr 0: nothing moves, so the run's checkpoint is exactly what it loaded.
  for (const std::string& from : {source, tmp / "source/state.safetensors", tmp / "source"}) {
    INFO(from);
    const std::string out = tmp / ("from" + std::to_string(from.size()));
    Config config =
        tiny(tmp / "data", "max_steps: 1, bn_mode: freeze, init_from: '" + from + "'", 0.0);
    config.seed = 42;  // another initialisation, which init_from replaces
    REQUIRE(train(config, out).status == "completed");
    CHECK(same_files(out + "/checkpoint.safetensors", source));
    // A fresh run: step 0 again (the source ended at step 8), the optimizer's count from 1.
    const SafetensorsFile state = load_safetensors(out + "/state.safetensors");
    CHECK(state.metadata.at("step") == "1");
    bool steps_found = false;
    for (const auto& [name, t] : state.tensors)
      if (name == "optimizer.optimizer.steps") {
        steps_found = true;
        CHECK(t.to_int64_vector() == std::vector<int64_t>{1});
      }
    CHECK(steps_found);
    CHECK(read_lines(out + "/metrics.csv").size() == 2);
  }
}

TEST_CASE("init_from: a mismatch or an experiment-only value is refused, naming file and tensor",
          "[apps][init_from]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  REQUIRE(train(tiny(tmp / "data", ""), tmp / "runs/source").status == "completed");
  const std::string source = tmp / "runs/source/checkpoint.safetensors";
  // norm none: the conv keeps its bias, which the BN checkpoint lacks.
  CHECK_THROWS_WITH(
      train(tiny(tmp / "data", "init_from: '" + source + "'", 0.05, "none"), tmp / "runs/plain"),
      Contains("train.init_from '" + source + "'") && Contains("'0.bias'"));
  CHECK_THROWS_WITH(train(tiny(tmp / "data", "init_from: '" + tmp / "nothing.safetensors" + "'"),
                          tmp / "runs/none"),
                    Contains("train.init_from") && Contains("nothing.safetensors"));
  CHECK_THROWS_WITH(train(tiny(tmp / "data", "init_from: 'variant:pretrain'"), tmp / "runs/v"),
                    Contains("train.init_from: 'variant:pretrain'") &&
                        Contains("only cnnlab compare and cnnlab study"));
  TrainOptions both;
  both.out_dir = tmp / "runs/both";
  both.init_from = source;
  both.quiet = true;
  CHECK_THROWS_WITH(train_run(tiny(tmp / "data", "init_from: '" + source + "'"), both),
                    Contains("both name initial weights"));
  for (const char* dir : {"runs/plain", "runs/none", "runs/v", "runs/both"})
    CHECK_FALSE(fs::exists(tmp / dir));
}

TEST_CASE("init_from: variant:NAME must name an earlier variant of the file",
          "[apps][init_from][experiment]") {
  TempDir tmp;
  const std::string path =
      write_finetune_file(tmp,
                          "  - {name: tune, set: {data.classes: [5, 6, 7, 8, 9], train.init_from: "
                          "'variant:pretrain'}}\n");
  const Experiment experiment = load_experiment(path);
  REQUIRE(experiment.variants.size() == 4);
  CHECK(experiment.variants[0].init_from_variant.empty());
  CHECK(experiment.variants[2].name == "tune-seed0");
  CHECK(experiment.variants[2].init_from_variant == "pretrain-seed0");
  CHECK(experiment.variants[3].init_from_variant == "pretrain-seed1");
  const Config resolved = resolved_config(experiment.variants[3], tmp / "runs");
  CHECK(resolved.train.init_from == tmp / "runs/pretrain-seed1/checkpoint.safetensors");
  CHECK(resolved.root["train"]["init_from"].as<std::string>() == resolved.train.init_from);

  write_finetune_file(tmp, "  - {name: tune, set: {train.init_from: 'variant:pretrained'}}\n");
  CHECK_THROWS_WITH(load_experiment(path),
                    Contains(path + " variant 'tune-seed0': train.init_from: 'variant:pretrained' "
                                    "names no variant listed before this one") &&
                        Contains("before it: pretrain"));
  // A later variant, and the variant itself.
  write_text(path,
             "base: ../models/base.yaml\nvariants:\n"
             "  - {name: tune, set: {train.init_from: 'variant:pretrain'}}\n"
             "  - {name: pretrain, set: {train.init_from: 'variant:pretrain'}}\n");
  CHECK_THROWS_WITH(load_experiment(path),
                    Contains("variant 'tune': train.init_from") && Contains("before it: none"));
}

TEST_CASE("init_from: compare starts a fine-tune from its seed's pretraining, and resumes it",
          "[apps][init_from][experiment]") {
  TempDir tmp;
  const std::string path = write_finetune_file(
      tmp,
      "  - {name: still, set: {data.classes: [5, 6, 7, 8, 9], optim.lr: 0, train.bn_mode: freeze,"
      " train.init_from: 'variant:pretrain'}}\n"
      "  - {name: tune, set: {data.classes: [5, 6, 7, 8, 9], train.epochs: 2,"
      " train.bn_mode: reestimate, train.init_from: 'variant:pretrain'}}\n");
  CompareOptions options;
  options.out_dir = tmp / "runs";
  options.quiet = true;
  options.reuse_finished = true;
  run_comparison(path, options);
  const std::string runs = tmp / "runs";
  // lr 0 and frozen BN: the fine-tune ends exactly where its own seed's pretraining ended.
  CHECK(same_files(runs + "/still-seed0/checkpoint.safetensors",
                   runs + "/pretrain-seed0/checkpoint.safetensors"));
  CHECK(same_files(runs + "/still-seed1/checkpoint.safetensors",
                   runs + "/pretrain-seed1/checkpoint.safetensors"));
  CHECK_FALSE(same_files(runs + "/still-seed0/checkpoint.safetensors",
                         runs + "/pretrain-seed1/checkpoint.safetensors"));
  CHECK_THAT(read_text(runs + "/tune-seed1/config.yaml"),
             Contains("init_from: " + runs + "/pretrain-seed1/checkpoint.safetensors"));
  // Each fine-tune's seeds are one variant, though each starts from its own seed's file.
  std::vector<std::string> dirs;
  for (const char* name : {"pretrain", "still", "tune"})
    for (const char* seed : {"-seed0", "-seed1"}) dirs.push_back(runs + "/" + name + seed);
  const std::vector<RunReport> reports = read_runs(dirs);
  const std::vector<VariantRuns> grouped = group_by_variant(reports);
  REQUIRE(grouped.size() == 3);
  for (const VariantRuns& v : grouped) CHECK(v.runs.size() == 2);
  // A second compare reuses every finished run (the resolved config.yaml matches).
  const auto before = fs::last_write_time(runs + "/tune-seed0/summary.json");
  run_comparison(path, options);
  CHECK(fs::last_write_time(runs + "/tune-seed0/summary.json") == before);

  // Resume: the fine-tune stopped after its first epoch continues from its own state, with
  // its source gone, and ends as the uninterrupted run did.
  const Config tune = load_config(runs + "/tune-seed0/config.yaml");
  YAML::Node stopped = YAML::Clone(tune.root);
  stopped["train"]["max_steps"] = 3;  // classes 5-9: 80 images, 3 batches of 32 per epoch
  REQUIRE(train(config_from_yaml(stopped, "tune.yaml"), tmp / "again").status == "completed");
  CHECK(load_safetensors(tmp / "again/state.safetensors").metadata.at("batch") == "0");
  fs::remove(runs + "/pretrain-seed0/checkpoint.safetensors");
  write_text(tmp / "again/config.yaml", to_yaml_string(tune.root));  // max_steps lifted
  REQUIRE(train(load_config(tmp / "again/config.yaml"), tmp / "again", tmp / "again").status ==
          "completed");
  CHECK(same_files(tmp / "again/checkpoint.safetensors",
                   runs + "/tune-seed0/checkpoint.safetensors"));
}

TEST_CASE("study: judged limits the variants paired with baseline_variant", "[apps][study]") {
  auto run = [](const char* name, double acc) {
    RunReport r;
    r.name = r.variant = r.seedless = name;
    r.norm = "batch";
    r.seedless_signature = name;
    r.final_test_acc = acc;
    return r;
  };
  const std::vector<RunReport> runs = {run("pretrain", 0.10), run("pretrain", 0.12),
                                       run("update", 0.60),   run("update", 0.62),
                                       run("freeze", 0.50),   run("freeze", 0.52)};
  Claim claim{"t", "s", "", {"final_test_acc", true}, "none", "freeze", {"update"}};
  const ClaimVerdict verdict = judge_claim(claim, group_by_variant(runs));
  CHECK(verdict.word == "holds");  // pretrain, worse, is not judged
  REQUIRE(verdict.pairs.size() == 1);
  CHECK_THAT(verdict.reason, Contains("every judged variant is better than freeze"));
  claim.judged.clear();
  CHECK(judge_claim(claim, group_by_variant(runs)).word == "depends");

  TempDir tmp;
  const std::string path = write_finetune_file(tmp, "  - {name: tune, set: {}}\n");
  const std::string head = read_text(path);
  const std::string claim_head =
      "claim:\n  title: t\n  statement: s\n  measure: final_test_acc\n  better: higher\n";
  write_text(path, head + claim_head + "  baseline_variant: pretrain\n  judged: [tune]\n");
  CHECK(read_claim(path).judged == std::vector<std::string>{"tune"});
  CHECK_NOTHROW(check_claim_pairs(read_claim(path), load_experiment(path), path));
  write_text(path, head + claim_head + "  baseline_variant: pretrain\n  judged: [tuned]\n");
  CHECK_THROWS_WITH(check_claim_pairs(read_claim(path), load_experiment(path), path),
                    Contains("claim.judged[0]: no variant is named 'tuned'"));
  write_text(path, head + claim_head + "  judged: [tune]\n");
  CHECK_THROWS_WITH(read_claim(path), Contains("claim.judged: names the variants judged against "
                                               "baseline_variant"));
}
