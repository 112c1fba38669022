// The cnnlab program: one binary, one subcommand per job.
//   cnnlab train   --config FILE [--set key=value ...] [--out DIR] [--init-from W] [--resume DIR]
//   cnnlab eval    --config FILE --weights FILE [--json] [--use-batch-stats] [--batch-size B]
//   cnnlab compare EXPERIMENT.yaml [--out DIR] [--set key=value ...]
//   cnnlab report  RUN_DIR... [--out DIR]
//   cnnlab bench   --config FILE [--batch B] [--steps N] [--json] [--norm-overhead] [--scaling]
//   cnnlab layers
// User layers live in shared libraries loaded with --plugin (or $CNNLAB_PLUGINS,
// colon-separated); each registers its layers with CNNLAB_REGISTER_LAYER when loaded.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "apps/bench.h"
#include "apps/compare.h"
#include "apps/config.h"
#include "apps/eval_command.h"
#include "apps/layers_command.h"
#include "apps/report.h"
#include "apps/trainer.h"
#include "core/error.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  // Log lines go to stderr so stdout carries only results (`eval --json | jq` works).
  spdlog::set_default_logger(spdlog::stderr_color_mt("cnnlab_console"));
  CLI::App app{"cnnlab: train CNNs with and without batch normalization and compare them.\n"
               "Data: CIFAR-10 is found through the config's data.root, then $CIFAR10_DIR, then "
               "data/cifar-10-batches-bin."};
  app.require_subcommand(1);
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins,
                 "Load a shared library of user-defined layers first (repeatable; also "
                 "$CNNLAB_PLUGINS, colon-separated)");

  // ---- train ----
  auto* train = app.add_subcommand("train", "Train a model described by a YAML config");
  std::string config_path, out_dir, init_from, resume_dir;
  std::vector<std::string> overrides;
  train->add_option("--config,-c", config_path, "YAML config (e.g. configs/models/vgg6.yaml)");
  train->add_option("--set,-s", overrides,
                    "Override a config key with a dotted path, e.g. --set optim.lr=0.1 "
                    "--set model.norm=none (repeatable)");
  train->add_option("--out,-o", out_dir, "Run directory (default runs/<name>-<timestamp>)");
  train->add_option("--init-from", init_from,
                    "Initial weights: a .safetensors file with PyTorch names and shapes");
  train->add_option("--resume", resume_dir,
                    "Continue the run in this directory from its last checkpoint (uses its config.yaml)");

  // ---- eval ----
  auto* eval = app.add_subcommand("eval", "Evaluate weights on the test set: loss, accuracy, per-class "
                                          "accuracy and confusion matrix");
  std::string weights;
  bool json = false, use_batch_stats = false, fold_bn = false;
  int64_t eval_batch = 0;
  eval->add_option("--config,-c", config_path, "YAML config the weights were trained with")->required();
  eval->add_option("--weights,-w", weights, "Weights (.safetensors, e.g. RUN/best.safetensors)")->required();
  eval->add_option("--set,-s", overrides, "Override a config key (dotted path), repeatable");
  eval->add_flag("--json", json, "Print one JSON object instead of tables");
  eval->add_flag("--use-batch-stats", use_batch_stats,
                 "Normalize with each eval batch's statistics instead of BN's running ones "
                 "(shows the train/eval pitfall)");
  eval->add_option("--batch-size", eval_batch, "Evaluation batch size (default: data.batch_size)");
  eval->add_flag("--fold-bn", fold_bn, "Fold BatchNorm into the preceding convolutions first");

  // ---- compare ----
  auto* compare = app.add_subcommand("compare", "Run an experiment's variants (e.g. with and without BN) "
                                                "and write report.md with plots");
  std::string experiment_path;
  compare->add_option("experiment", experiment_path, "Experiment YAML (configs/experiments/...)")->required();
  compare->add_option("--out,-o", out_dir, "Output folder (default runs/<experiment>-<timestamp>)");
  compare->add_option("--set,-s", overrides, "Override a key in every variant (dotted path), repeatable");

  // ---- report ----
  auto* report = app.add_subcommand("report", "Write report.md and plots for finished run directories");
  std::vector<std::string> run_dirs;
  std::string title = "cnnlab report";
  report->add_option("runs", run_dirs, "Run directories")->required();
  report->add_option("--out,-o", out_dir, "Where report.md goes (default: the first run's parent)");
  report->add_option("--title", title, "Report title");

  // ---- bench ----
  auto* bench = app.add_subcommand("bench", "Time training steps and evaluation on synthetic input");
  cnn::BenchOptions bench_options;
  bench->add_option("--config,-c", config_path, "YAML config of the model")->required();
  bench->add_option("--set,-s", overrides, "Override a config key (dotted path), repeatable");
  bench->add_option("--batch,-b", bench_options.batch, "Batch size (default: data.batch_size)");
  bench->add_option("--steps,-n", bench_options.steps, "Timed steps after warm-up")->capture_default_str();
  bench->add_option("--threads", bench_options.threads, "Threads (default: all cores)");
  bench->add_flag("--json", bench_options.json, "Print one JSON object");
  bench->add_flag("--norm-overhead", bench_options.norm_overhead,
                  "Also time the model against model.norm: none, steps in turns, and print "
                  "the normalization's share of the step");
  bench->add_flag("--scaling", bench_options.scaling,
                  "Also time batch 32/64/128/256 with 1 and 2 threads");

  // ---- layers ----
  auto* layers = app.add_subcommand("layers", "List every layer type with its YAML keys and defaults");

  CLI11_PARSE(app, argc, argv);

  try {
    if (const char* env = std::getenv("CNNLAB_PLUGINS")) {
      std::string list = env;
      for (size_t start = 0; start <= list.size();) {
        size_t end = list.find(':', start);
        if (end == std::string::npos) end = list.size();
        if (end > start) plugins.push_back(list.substr(start, end - start));
        start = end + 1;
      }
    }
    for (const std::string& plugin : plugins)
      if (!dlopen(plugin.c_str(), RTLD_NOW | RTLD_GLOBAL))
        throw cnn::Error("--plugin '" + plugin + "': cannot load it: " + dlerror());

    if (train->parsed()) {
      cnn::TrainOptions options;
      options.out_dir = out_dir;
      options.init_from = init_from;
      cnn::Config config;
      if (!resume_dir.empty()) {
        if (!config_path.empty() || !overrides.empty())
          throw cnn::Error("--resume continues a run with its own config.yaml; drop --config/--set");
        options.resume_dir = resume_dir;
        config = cnn::load_config((fs::path(resume_dir) / "config.yaml").string());
      } else {
        if (config_path.empty()) throw cnn::Error("train: --config FILE is required (or --resume DIR)");
        config = cnn::load_config(config_path, overrides);
      }
      cnn::TrainResult result = cnn::train_run(config, options);
      std::printf("%s: %s, final test accuracy %.2f%%, best %.2f%%, %.0f images/s\nrun directory: %s\n",
                  config.name.c_str(), result.status.c_str(), result.final_test_acc * 100,
                  result.best_test_acc * 100, result.train_images_per_s, result.run_dir.c_str());
      return result.status == "interrupted" ? 130 : 0;
    }
    if (eval->parsed()) {
      cnn::Config config = cnn::load_config(config_path, overrides);
      return cnn::run_eval_command(config, weights, json, use_batch_stats, eval_batch, fold_bn);
    }
    if (compare->parsed()) {
      cnn::CompareOptions options;
      options.out_dir = out_dir;
      options.overrides = overrides;
      cnn::run_comparison(experiment_path, options);
      return 0;
    }
    if (report->parsed()) {
      std::string target = out_dir.empty() ? fs::path(run_dirs.front()).parent_path().string() : out_dir;
      if (target.empty()) target = ".";
      std::vector<cnn::RunReport> runs = cnn::read_runs(run_dirs);
      std::string path = cnn::write_report(runs, target, title);
      std::printf("%s\nreport: %s\n", cnn::comparison_table(runs).c_str(), path.c_str());
      return 0;
    }
    if (bench->parsed()) {
      cnn::Config config = cnn::load_config(config_path, overrides);
      return cnn::run_bench(config, bench_options);
    }
    if (layers->parsed()) {
      cnn::print_layers(std::cout);
      return 0;
    }
  } catch (const cnn::Error& e) {
    std::fprintf(stderr, "cnnlab: error: %s\n", e.what());
    return 1;
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "cnnlab: error: YAML: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cnnlab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
