// Running an experiment's variants and reporting them.
#include "apps/compare.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "apps/experiment.h"
#include "apps/distributed.h"
#include "apps/report.h"
#include "apps/run_files.h"
#include "apps/signals.h"
#include "apps/store_url.h"
#include "apps/trainer.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

enum class VariantStart { fresh, resume, reuse };

// What an earlier run in `dir` allows, only when its config.yaml is this variant's: reuse a
// finished run (completed or diverged: a finding, not a fault), resume an interrupted one.
VariantStart variant_start(const std::string& dir, const Config& config) {
  const fs::path folder(dir);
  std::ifstream saved(folder / "config.yaml");
  if (!saved || !fs::exists(folder / "summary.json")) return VariantStart::fresh;
  const std::string text((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  if (text != to_yaml_string(config.root)) return VariantStart::fresh;
  const std::string status = read_json_file((folder / "summary.json").string()).value("status", "");
  if (status == "completed" || status == "diverged") return VariantStart::reuse;
  if (status == "interrupted" && fs::exists(folder / "state.safetensors"))
    return VariantStart::resume;
  return VariantStart::fresh;
}

}  // namespace

std::string run_comparison(const std::string& experiment_path, const CompareOptions& options) {
  auto start = std::chrono::steady_clock::now();
  Experiment experiment = load_experiment(experiment_path, options.overrides);  // validates all
  // Under mpirun every rank trains every variant; the folder (a timestamp) is rank 0's.
  std::string out_dir = Distributed::broadcast(
      options.out_dir.empty()
          ? (fs::path("runs") / (experiment.name + "-" + timestamp_for_names())).string()
          : options.out_dir);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  CNN_CHECK(!ec, "compare: cannot create '", out_dir, "': ", ec.message());
  std::string runs_db = (fs::path(out_dir).parent_path().empty() ? fs::path(".")
                                                                  : fs::path(out_dir).parent_path()) /
                        "runs.db";

  std::vector<std::string> run_dirs;
  size_t index = 0;
  for (const Variant& variant : experiment.variants) {
    ++index;
    std::string changes;
    for (const auto& [key, value] : variant.settings) changes += (changes.empty() ? "" : ", ") + key + "=" + value;
    spdlog::info("[{}/{}] variant '{}' ({})", index, experiment.variants.size(), variant.name,
                 changes.empty() ? "base config" : changes);
    TrainOptions train_options;
    train_options.out_dir = (fs::path(out_dir) / variant.name).string();
    train_options.runs_db = choose_store_url(options.store, runs_db);
    train_options.store_optional = options.store_optional;
    train_options.experiment = experiment.name;
    train_options.variant = variant.name;
    train_options.quiet = options.quiet;
    const Config config = resolved_config(variant, out_dir);
    const VariantStart start =
        options.reuse_finished ? variant_start(train_options.out_dir, config) : VariantStart::fresh;
    if (start == VariantStart::reuse) {
      spdlog::info("variant '{}' already finished in {}: reused", variant.name,
                   train_options.out_dir);
      run_dirs.push_back(train_options.out_dir);
      continue;
    }
    if (start == VariantStart::resume)
      train_options.resume_dir = train_options.out_dir;
    else
      fs::remove(fs::path(train_options.out_dir) / "state.safetensors");  // a rerun into the same folder
    TrainResult result = train_run(config, train_options);
    run_dirs.push_back(result.run_dir);
    if (result.status == "interrupted") {
      spdlog::warn("compare stopped during variant '{}'; the finished variants are reported", variant.name);
      break;
    }
  }
  if (Distributed::rank() != 0) return "";  // rank 0 reports
  std::vector<RunReport> runs = read_runs(run_dirs);
  std::string report = write_report(runs, out_dir, "Experiment " + experiment.name);
  double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60.0;
  std::printf("\n%s\n", comparison_table(runs).c_str());
  std::printf("report: %s\nplots:  %s\nwall time: %.1f min\n", report.c_str(),
              (fs::path(out_dir) / "plots").string().c_str(), minutes);
  return report;
}

}  // namespace cnn
