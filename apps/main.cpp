// The cnnlab program: one binary, one subcommand per job.
//   cnnlab train   --config FILE [--set key=value ...] [--out DIR] [--init-from W] [--resume DIR]
//   cnnlab eval    --config FILE --weights FILE [--json] [--use-batch-stats] [--batch-size B]
//                  [--precision fp32|bf16]
//   cnnlab compare EXPERIMENT.yaml [--out DIR] [--set key=value ...]
//   cnnlab report  RUN_DIR... [--out DIR]
//   cnnlab study   configs/study/ [FILE.yaml ...] [--out DIR] [--results DIR] [--set key=value ...]
//   cnnlab bench   --config FILE [--batch B] [--steps N] [--json] [--norm-overhead] [--scaling] [--kernels]
//                  [--precision fp32|bf16]
//   cnnlab export  --config FILE --weights FILE --out M.onnx [--no-fold-bn] [--no-normalize]
//                  [--opset 13..17]
//   cnnlab layers
//   cnnlab runs    list|show|compare|query ... [--store URL]
//   cnnlab serve   [--store URL] [--host 127.0.0.1] [--port 8080]
// User layers live in shared libraries loaded with --plugin (or $CNNLAB_PLUGINS,
// colon-separated); each registers its layers with CNNLAB_REGISTER_LAYER when loaded.
#include <dlfcn.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "apps/bench.h"
#include "apps/compare.h"
#include "apps/config.h"
#include "apps/distributed.h"
#include "apps/eval_command.h"
#include "apps/export_command.h"
#include "apps/layers_command.h"
#include "apps/report.h"
#include "apps/runs_command.h"
#include "apps/serve_command.h"
#include "apps/store_url.h"
#include "apps/study.h"
#include "apps/trainer.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace {

// Each subcommand: the values its options fill, the function that declares them on the
// program, and the function that runs it once parsed (returning the exit code).

// ---- train ----
struct TrainArgs {
  std::string config_path, out_dir, init_from, resume_dir, store;
  std::vector<std::string> overrides;
  bool store_optional = false;
};

// --store URL and --store-optional, as train and compare take them.
void add_store_options(CLI::App* command, std::string& store, bool& optional) {
  command->add_option("--store", store,
                      "Run store: sqlite:PATH (default runs.db beside the run folder) or "
                      "mysql://USER@HOST[:PORT]/DB[?socket=PATH]; also $CNNLAB_STORE. The "
                      "password comes from $CNNLAB_STORE_PASSWORD or ~/.my.cnf [client]");
  command->add_flag("--store-optional", optional,
                    "An unreachable store is a warning: the run goes on and spools its records "
                    "(push them later with cnnlab runs sync RUN_DIR)");
}

CLI::App* add_train(CLI::App& app, TrainArgs& args) {
  auto* train = app.add_subcommand("train", "Train a model described by a YAML config");
  train->add_option("--config,-c", args.config_path, "YAML config (e.g. configs/models/vgg6.yaml)");
  train->add_option("--set,-s", args.overrides,
                    "Override a config key with a dotted path, e.g. --set optim.lr=0.1 "
                    "--set model.norm=none (repeatable)");
  train->add_option("--out,-o", args.out_dir, "Run directory (default runs/<name>-<timestamp>)");
  train->add_option("--init-from", args.init_from,
                    "Initial weights: a .safetensors file with PyTorch names and shapes");
  train->add_option(
      "--resume", args.resume_dir,
      "Continue the run in this directory from its last checkpoint (uses its config.yaml)");
  add_store_options(train, args.store, args.store_optional);
  return train;
}

int run_train(const TrainArgs& args) {
  cnn::TrainOptions options;
  options.out_dir = args.out_dir;
  options.init_from = args.init_from;
  options.runs_db = args.store;
  options.store_optional = args.store_optional;
  cnn::Config config;
  if (!args.resume_dir.empty()) {
    if (!args.config_path.empty() || !args.overrides.empty())
      throw cnn::Error("--resume continues a run with its own config.yaml; drop --config/--set");
    options.resume_dir = args.resume_dir;
    config = cnn::load_config((fs::path(args.resume_dir) / "config.yaml").string());
  } else {
    if (args.config_path.empty())
      throw cnn::Error("train: --config FILE is required (or --resume DIR)");
    config = cnn::load_config(args.config_path, args.overrides);
  }
  cnn::TrainResult result = cnn::train_run(config, options);
  std::printf("%s: %s, final test accuracy %.2f%%, best %.2f%%, %.0f images/s\nrun directory: %s\n",
              config.name.c_str(), result.status.c_str(), result.final_test_acc * 100,
              result.best_test_acc * 100, result.train_images_per_s, result.run_dir.c_str());
  return result.status == "interrupted" ? 130 : 0;
}

// ---- eval ----
struct EvalArgs {
  std::string config_path, weights;
  std::vector<std::string> overrides;
  bool json = false, use_batch_stats = false, fold_bn = false;
  int64_t batch_size = 0;
  std::string precision;
};

// --precision P: the same as --set train.precision=P (after the other overrides).
std::vector<std::string> with_precision(std::vector<std::string> overrides,
                                        const std::string& precision) {
  if (!precision.empty()) overrides.push_back("train.precision=" + precision);
  return overrides;
}

CLI::App* add_eval(CLI::App& app, EvalArgs& args) {
  auto* eval = app.add_subcommand("eval",
                                  "Evaluate weights on the test set: loss, accuracy, per-class "
                                  "accuracy and confusion matrix");
  eval->add_option("--config,-c", args.config_path, "YAML config the weights were trained with")
      ->required();
  eval->add_option("--weights,-w", args.weights,
                   "Weights (.safetensors, e.g. RUN/best.safetensors)")
      ->required();
  eval->add_option("--set,-s", args.overrides, "Override a config key (dotted path), repeatable");
  eval->add_flag("--json", args.json, "Print one JSON object instead of tables");
  eval->add_flag("--use-batch-stats", args.use_batch_stats,
                 "Normalize with each eval batch's statistics instead of BN's running ones "
                 "(shows the train/eval pitfall)");
  eval->add_option("--batch-size", args.batch_size,
                   "Evaluation batch size (default: data.batch_size)");
  eval->add_flag("--fold-bn", args.fold_bn, "Fold BatchNorm into the preceding convolutions first");
  eval->add_option("--precision", args.precision,
                   "fp32 | bf16: the GEMMs' precision (train.precision, docs/precision.md)");
  return eval;
}

int run_eval(const EvalArgs& args) {
  cnn::Config config =
      cnn::load_config(args.config_path, with_precision(args.overrides, args.precision));
  return cnn::run_eval_command(config, args.weights, args.json, args.use_batch_stats,
                               args.batch_size, args.fold_bn);
}

// ---- compare ----
struct CompareArgs {
  std::string experiment_path;
  cnn::CompareOptions options;
};

CLI::App* add_compare(CLI::App& app, CompareArgs& args) {
  auto* compare = app.add_subcommand("compare",
                                     "Run an experiment's variants (e.g. with and without BN) "
                                     "and write report.md with plots");
  compare
      ->add_option("experiment", args.experiment_path, "Experiment YAML (configs/experiments/...)")
      ->required();
  compare->add_option("--out,-o", args.options.out_dir,
                      "Output folder (default runs/<experiment>-<timestamp>)");
  compare->add_option("--set,-s", args.options.overrides,
                      "Override a key in every variant (dotted path), repeatable");
  add_store_options(compare, args.options.store, args.options.store_optional);
  return compare;
}

int run_compare(const CompareArgs& args) {
  cnn::run_comparison(args.experiment_path, args.options);
  return 0;
}

// ---- study ----
struct StudyArgs {
  std::vector<std::string> paths;
  cnn::StudyOptions options;
};

CLI::App* add_study(CLI::App& app, StudyArgs& args) {
  auto* study = app.add_subcommand(
      "study", "Run the batch-norm study (experiments with claims) and write its results pages");
  study->add_option("paths", args.paths, "Study files or folders of them (e.g. configs/study/)")
      ->required();
  study->add_option("--out,-o", args.options.out_dir, "Where the runs go (reused when resumed)")
      ->capture_default_str();
  study->add_option("--results", args.options.results_dir, "Where the claim pages go")
      ->capture_default_str();
  study->add_option("--set,-s", args.options.overrides,
                    "Override a key in every variant of every experiment (a budget), repeatable");
  add_store_options(study, args.options.store, args.options.store_optional);
  return study;
}

int run_study(const StudyArgs& args) {
  cnn::run_study(args.paths, args.options);
  return 0;
}

// ---- report ----
struct ReportArgs {
  std::vector<std::string> run_dirs;
  std::string out_dir, title = "cnnlab report", store;
};

CLI::App* add_report(CLI::App& app, ReportArgs& args) {
  auto* report =
      app.add_subcommand("report", "Write report.md and plots for finished run directories");
  report->add_option("runs", args.run_dirs, "Run directories")->required();
  report->add_option("--out,-o", args.out_dir,
                     "Where report.md goes (default: the first run's parent)");
  report->add_option("--title", args.title, "Report title");
  report->add_option("--store", args.store,
                     "Run store to read (sqlite:PATH or mysql://USER@HOST[:PORT]/DB); default "
                     "$CNNLAB_STORE, else the one each run's summary.json names");
  return report;
}

int run_report(const ReportArgs& args) {
  std::string target =
      args.out_dir.empty() ? fs::path(args.run_dirs.front()).parent_path().string() : args.out_dir;
  if (target.empty()) target = ".";
  std::vector<cnn::RunReport> runs =
      cnn::read_runs(args.run_dirs, cnn::choose_store_url(args.store, ""));
  std::string path = cnn::write_report(runs, target, args.title);
  std::printf("%s\nreport: %s\n", cnn::comparison_table(runs).c_str(), path.c_str());
  return 0;
}

// ---- bench ----
struct BenchArgs {
  std::string config_path, precision;
  std::vector<std::string> overrides;
  cnn::BenchOptions options;
};

CLI::App* add_bench(CLI::App& app, BenchArgs& args) {
  auto* bench =
      app.add_subcommand("bench", "Time training steps and evaluation on synthetic input");
  cnn::BenchOptions& options = args.options;
  bench->add_option("--config,-c", args.config_path, "YAML config of the model")->required();
  bench->add_option("--set,-s", args.overrides, "Override a config key (dotted path), repeatable");
  bench->add_option("--batch,-b", options.batch, "Batch size (default: data.batch_size)");
  bench->add_option("--steps,-n", options.steps, "Timed steps after warm-up")
      ->capture_default_str();
  bench->add_option("--threads", options.threads, "Threads (default: all cores)");
  bench->add_flag("--json", options.json, "Print one JSON object");
  bench->add_flag("--norm-overhead", options.norm_overhead,
                  "Also time the model against model.norm: none, steps in turns, and print "
                  "the normalization's share of the step");
  bench->add_flag("--scaling", options.scaling,
                  "Also time batch 32/64/128/256 with 1 and 2 threads");
  bench->add_flag("--kernels", options.kernels,
                  "Also time the model's GEMM shapes through every provider (own packed "
                  "kernels, oneDNN, OpenBLAS; in bf16 the bf16 kernels)");
  bench->add_option("--precision", args.precision,
                    "fp32 | bf16: the GEMMs' precision (train.precision, docs/precision.md)");
  return bench;
}

int run_bench(const BenchArgs& args) {
  cnn::Config config =
      cnn::load_config(args.config_path, with_precision(args.overrides, args.precision));
  return cnn::run_bench(config, args.options);
}

// ---- export ----
struct ExportArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  cnn::ExportOptions options;
  bool no_fold_bn = false, no_normalize = false;
};

CLI::App* add_export(CLI::App& app, ExportArgs& args) {
  auto* exporter = app.add_subcommand(
      "export", "Write the model with its weights as an ONNX file for inference (pixels in [0, 1], "
                "NCHW float32, dynamic batch)");
  exporter->add_option("--config,-c", args.config_path, "YAML config the weights were trained with")
      ->required();
  exporter->add_option("--weights,-w", args.options.weights,
                       "Weights (.safetensors, e.g. RUN/best.safetensors)")
      ->required();
  exporter->add_option("--out,-o", args.options.out, "The ONNX file to write (e.g. model.onnx)")
      ->required();
  exporter->add_option("--set,-s", args.overrides, "Override a config key (dotted path), repeatable");
  exporter->add_flag("--no-fold-bn", args.no_fold_bn,
                     "Keep every BatchNorm as a BatchNormalization node instead of folding it into "
                     "the convolution before it");
  exporter->add_flag("--no-normalize", args.no_normalize,
                     "Leave the config's input normalization out: the graph then takes normalized "
                     "input");
  exporter->add_option("--opset", args.options.opset, "ONNX opset, 13 to 17")
      ->capture_default_str()
      ->check(CLI::Range(cnn::kOnnxMinOpset, cnn::kOnnxMaxOpset));
  return exporter;
}

int run_export(ExportArgs& args) {
  args.options.fold_bn = !args.no_fold_bn;
  args.options.normalize = !args.no_normalize;
  cnn::Config config = cnn::load_config(args.config_path, args.overrides);
  return cnn::run_export_command(config, args.options);
}

// ---- layers ----
CLI::App* add_layers(CLI::App& app) {
  return app.add_subcommand("layers", "List every layer type with its YAML keys and defaults");
}

int run_layers() {
  cnn::print_layers(std::cout);
  return 0;
}

// ---- serve ----
CLI::App* add_serve(CLI::App& app, cnn::ServeOptions& options) {
  auto* serve = app.add_subcommand("serve", "Serve the dashboard: runs, live curves, comparisons (read-only)");
  serve->add_option("--store", options.store,
                    "Run store URL (default: $CNNLAB_STORE, else runs/runs.db)");
  serve->add_option("--host", options.host, "Address to listen on (loopback unless given)")
      ->capture_default_str();
  serve->add_option("--port", options.port, "Port (0: any free one, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  return serve;
}

// ---- plugins ----
// Loads the --plugin libraries, then those in $CNNLAB_PLUGINS (colon-separated, empty
// entries skipped), before any subcommand runs so their layers are registered.
void load_plugins(std::vector<std::string> plugins) {
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
}

}  // namespace

int run_main(int argc, char** argv) {
  // Log lines go to stderr so stdout carries only results (`eval --json | jq` works).
  spdlog::set_default_logger(spdlog::stderr_color_mt("cnnlab_console"));
  CLI::App app{
      "cnnlab: train CNNs with and without batch normalization and compare them.\n"
      "Data: CIFAR-10 is found through the config's data.root, then $CIFAR10_DIR, then "
      "data/cifar-10-batches-bin."};
  app.require_subcommand(1);
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins,
                 "Load a shared library of user-defined layers first (repeatable; also "
                 "$CNNLAB_PLUGINS, colon-separated)");
  TrainArgs train_args;
  EvalArgs eval_args;
  CompareArgs compare_args;
  ReportArgs report_args;
  StudyArgs study_args;
  BenchArgs bench_args;
  ExportArgs export_args;
  CLI::App* train = add_train(app, train_args);
  CLI::App* eval = add_eval(app, eval_args);
  CLI::App* compare = add_compare(app, compare_args);
  CLI::App* report = add_report(app, report_args);
  CLI::App* study = add_study(app, study_args);
  CLI::App* bench = add_bench(app, bench_args);
  CLI::App* exporter = add_export(app, export_args);
  CLI::App* layers = add_layers(app);
  cnn::RunsCommand runs(app);
  cnn::ServeOptions serve_options;
  CLI::App* serve = add_serve(app, serve_options);

  CLI11_PARSE(app, argc, argv);

  try {
    load_plugins(plugins);
    if (train->parsed()) return run_train(train_args);
    if (eval->parsed()) return run_eval(eval_args);
    if (compare->parsed()) return run_compare(compare_args);
    if (report->parsed()) return run_report(report_args);
    if (study->parsed()) return run_study(study_args);
    if (bench->parsed()) return run_bench(bench_args);
    if (exporter->parsed()) return run_export(export_args);
    if (layers->parsed()) return run_layers();
    if (runs.parsed()) return runs.run();
    if (serve->parsed()) return cnn::run_serve(serve_options);
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

// Under mpirun or srun every rank runs the program; finish() ends a failed rank's job for all.
int main(int argc, char** argv) {
  cnn::Distributed::init(&argc, &argv);
  return cnn::Distributed::finish(run_main(argc, argv));
}
