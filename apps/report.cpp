// Comparison reports: run directories -> table, markdown and gnuplot plots.
#include "apps/report.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "apps/config.h"
#include "apps/report_plots.h"
#include "apps/report_seeds.h"
#include "apps/run_files.h"
#include "apps/run_store.h"
#include "apps/text_table.h"
#include "core/config_reader.h"
#include "core/error.h"
#include "layers/builder.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

// A number of summary.json; NaN when missing or null (as a non-finite value is written).
double number_or_nan(const nlohmann::json& summary, const char* key) {
  auto it = summary.find(key);
  return it != summary.end() && it->is_number() ? it->get<double>() : std::nan("");
}

std::string percent(double value) { return format_percent(value); }
std::string fixed(double value, int digits) { return format_fixed(value, digits); }

// The run's records from the store summary.json names (or `store_url`, given).
void read_records(RunReport& run, const nlohmann::json& summary, const std::string& summary_path,
                  const std::string& store_url) {
  CNN_CHECK(summary.contains("store") && summary["store"].is_string() &&
                summary.contains("run_id") && summary["run_id"].is_number_integer(),
            "report: '", summary_path,
            "' names no run store (\"store\" and \"run_id\"): it was written by an older "
            "cnnlab; train the run again to report it");
  const std::string location =
      store_url.empty() ? summary["store"].get<std::string>() : store_url;
  const int64_t run_id = summary["run_id"].get<int64_t>();
  // A server's URL (no password: that comes from CNNLAB_STORE_PASSWORD or ~/.my.cnf), or a file.
  const StoreUrl parsed = parse_store_url(location);
  CNN_CHECK(parsed.backend != StoreBackend::sqlite || fs::exists(parsed.sqlite_path),
            "report: the run store '", location, "' that '", summary_path,
            "' names does not exist (was it moved or deleted?)");
  RunStore store(location);
  CNN_CHECK(store.run(run_id).has_value(), "report: the run store '", location,
            "' has no run ", run_id, " ('", summary_path, "' names it)");
  run.epochs = store.epochs(run_id);
  run.steps = store.steps(run_id);
  run.layer_stats = store.layer_stats(run_id);
}

// A config without its seed, for grouping a variant's seeds: the seed key, and in
// train.init_from the "-seed<k>" of the same seed's run it starts from (an experiment's
// variant:NAME resolves to OUT/NAME-seed<k>/checkpoint.safetensors).
void remove_seed(YAML::Node& config) {
  const std::string seed = config["seed"].IsDefined() ? config["seed"].as<std::string>() : "";
  config.remove("seed");
  YAML::Node train = config["train"];
  if (seed.empty() || !train.IsMap() || !train["init_from"].IsDefined()) return;
  std::string from = train["init_from"].as<std::string>();
  const std::string mark = "-seed" + seed + "/";
  if (const size_t at = from.rfind(mark); at != std::string::npos)
    from.replace(at, mark.size(), "-seed*/");
  train["init_from"] = from;
}

}  // namespace

RunReport read_run(const std::string& run_dir, const std::string& store) {
  fs::path dir(run_dir);
  CNN_CHECK(fs::exists(dir / "summary.json"), "report: '", run_dir,
            "' has no summary.json (not a finished cnnlab run directory)");
  RunReport run;
  run.run_dir = run_dir;
  run.name = dir.filename().string();
  if (run.name.empty()) run.name = dir.parent_path().filename().string();
  const std::string summary_path = (dir / "summary.json").string();
  const nlohmann::json summary = read_json_file(summary_path);
  CNN_CHECK(summary.is_object(), "report: '", summary_path, "' is not a JSON object");
  auto status = summary.find("status");
  run.status = status != summary.end() && status->is_string() ? status->get<std::string>() : "";
  auto diverged = summary.find("diverged");
  run.diverged = diverged != summary.end() && diverged->is_boolean() && diverged->get<bool>();
  auto diverged_step = summary.find("diverged_step");
  if (diverged_step != summary.end() && diverged_step->is_number_integer())
    run.diverged_step = diverged_step->get<int64_t>();
  auto collapsed = summary.find("collapsed");
  run.collapsed = collapsed != summary.end() && collapsed->is_boolean() && collapsed->get<bool>();
  auto collapsed_step = summary.find("collapsed_step");
  if (collapsed_step != summary.end() && collapsed_step->is_number_integer())
    run.collapsed_step = collapsed_step->get<int64_t>();
  run.final_test_acc = number_or_nan(summary, "final_test_acc");
  run.best_test_acc = number_or_nan(summary, "best_test_acc");
  run.images_per_s = number_or_nan(summary, "train_images_per_s");
  run.step_seconds = number_or_nan(summary, "mean_step_seconds");
  run.final_train_acc = number_or_nan(summary, "final_train_acc");
  read_records(run, summary, summary_path, store);

  if (fs::exists(dir / "config.yaml")) {
    YAML::Node config = YAML::LoadFile((dir / "config.yaml").string());
    run.norm = ConfigReader(config["model"], "model", model_keys()).get_string("norm");
    if (config["train"]["accuracy_threshold"].IsDefined())
      run.threshold = config["train"]["accuracy_threshold"].as<double>();
    YAML::Node stripped = YAML::Clone(config);
    stripped.remove("name");
    if (stripped["model"].IsMap()) stripped["model"].remove("norm");
    run.signature = to_yaml_string(stripped);
    YAML::Node unseeded = YAML::Clone(config);
    remove_seed(unseeded);
    run.seedless = to_yaml_string(unseeded);
    remove_seed(stripped);
    run.seedless_signature = to_yaml_string(stripped);
  }
  run.variant = run.name;
  if (const size_t at = run.name.rfind("-seed");
      at != std::string::npos && at + 5 < run.name.size() &&
      run.name.find_first_not_of("0123456789", at + 5) == std::string::npos)
    run.variant = run.name.substr(0, at);
  for (const EpochRecord& r : run.epochs)
    if (r.test_acc >= run.threshold) {
      run.epochs_to_threshold = r.epoch;
      break;
    }
  return run;
}

std::string comparison_table(const std::vector<RunReport>& runs) {
  double threshold = runs.empty() ? 0.5 : runs.front().threshold;
  std::vector<std::vector<std::string>> rows;
  for (const RunReport& r : runs) {
    std::string diverged = r.diverged ? "yes, step " + std::to_string(r.diverged_step) : "no";
    std::string collapsed = r.collapsed ? "yes, by step " + std::to_string(r.collapsed_step) : "no";
    std::string reached = r.epochs_to_threshold > 0 ? std::to_string(r.epochs_to_threshold) : "never";
    std::ostringstream overhead;
    if (r.norm == "none")
      overhead << "(baseline)";
    else if (r.has_baseline)
      overhead << (r.overhead >= 0 ? "+" : "") << fixed(r.overhead * 100, 1) << "%";
    else
      overhead << "n/a";
    double gap = r.epochs.empty() ? std::nan("") : r.epochs.back().train_acc - r.epochs.back().test_acc;
    rows.push_back({r.name, r.norm, percent(r.final_test_acc), percent(r.best_test_acc), reached,
                    diverged, collapsed, fixed(r.step_seconds * 1000, 1), fixed(r.images_per_s, 0),
                    overhead.str(), std::isfinite(gap) ? fixed(gap * 100, 2) + " pts" : "n/a"});
  }
  std::ostringstream out;
  out << markdown_table({"variant", "norm", "final test acc", "best test acc",
                         "epochs to " + percent(threshold), "diverged", "collapsed",
                         "step time (ms)", "images/s", "norm overhead", "train-test gap"},
                        rows);
  // Repeated seeds: each variant's mean and spread, and the verdicts they allow.
  const std::vector<VariantRuns> variants = group_by_variant(runs);
  if (variants.size() < runs.size()) {
    out << "\nOver seeds (mean [min, max]):\n\n" << seed_table(variants, threshold);
    const std::string verdicts = seed_verdicts(variants);
    if (!verdicts.empty()) out << "\n" << verdicts;
  }
  return out.str();
}

std::vector<RunReport> read_runs(const std::vector<std::string>& run_dirs,
                                 const std::string& store) {
  CNN_CHECK(!run_dirs.empty(), "report: no run directories given");
  std::vector<RunReport> runs;
  for (const std::string& dir : run_dirs) runs.push_back(read_run(dir, store));
  // Pair every normalized run with the run identical but for model.norm: none.
  for (RunReport& r : runs) {
    if (r.norm == "none") continue;
    for (const RunReport& base : runs)
      if (base.norm == "none" && base.signature == r.signature && base.step_seconds > 0) {
        r.has_baseline = true;
        r.overhead = r.step_seconds / base.step_seconds - 1.0;
      }
  }
  return runs;
}

std::string write_report(const std::vector<RunReport>& runs, const std::string& out_dir,
                         const std::string& title) {
  fs::path out(out_dir), plots = fs::path(out_dir) / "plots";
  std::error_code ec;
  fs::create_directories(plots, ec);
  CNN_CHECK(!ec, "report: cannot create '", plots.string(), "': ", ec.message());
  const Plots drawn = draw_plots(runs, plots.string(), title);
  const std::string& plot_note = drawn.note;
  const bool any_stats = drawn.layer_stats;

  std::ostringstream md;
  md << "# " << title << "\n\n" << comparison_table(runs) << "\n";
  md << "Columns: final/best test accuracy in eval mode; epochs to reach the threshold "
        "(convergence speed); divergence (a NaN/inf loss or gradient, or a loss past "
        "train.divergence_factor times the first) and its step; collapse (the test predictions "
        "in one class, or accuracy at chance, through the last epoch) and the step it began by; "
        "mean optimizer step time and "
        "training images/s; the step-time overhead of the normalization against the same config "
        "with `model.norm: none`; train minus test accuracy after the last epoch (the "
        "regularization claim).\n\n";
  if (!plot_note.empty()) md << "> " << plot_note << "\n\n";
  md << "![train loss and test accuracy per epoch](plots/loss_accuracy.png)\n\n";
  md << "![per-step training loss](plots/step_loss.png)\n\n";
  if (any_stats)
    md << "![activation std per layer](plots/activation_std.png)\n\n"
       << "![gradient norm per weight](plots/grad_norm.png)\n\n";
  md << "## Runs\n\n";
  for (const RunReport& r : runs) {
    md << "### " << r.name << " (" << r.status << ")\n\n`" << r.run_dir << "`\n\n"
       << "| epoch | train loss | train acc | test loss | test acc | seconds | images/s |\n"
       << "|---|---|---|---|---|---|---|\n";
    for (const EpochRecord& e : r.epochs)
      md << "| " << e.epoch << " | " << fixed(e.train_loss, 4) << " | " << percent(e.train_acc)
         << " | " << fixed(e.test_loss, 4) << " | " << percent(e.test_acc) << " | "
         << fixed(e.seconds, 1) << " | " << fixed(e.images_per_s, 0) << " |\n";
    md << "\n";
  }
  fs::path report_path = out / "report.md";
  write_text_file_atomically(report_path.string(), md.str());
  return report_path.string();
}

}  // namespace cnn
