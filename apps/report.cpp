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
#include "core/error.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

// A number of summary.json; NaN when missing or null (as a non-finite value is written).
double number_or_nan(const nlohmann::json& summary, const char* key) {
  auto it = summary.find(key);
  return it != summary.end() && it->is_number() ? it->get<double>() : std::nan("");
}

std::string percent(double value) {
  if (!std::isfinite(value)) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << value * 100 << "%";
  return out.str();
}

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

// A quoted gnuplot string.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

struct StepPoint {
  int64_t step;
  double loss;
};

std::vector<StepPoint> read_step_losses(const std::string& path) {
  std::vector<StepPoint> points;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string epoch, step, lr, loss;
    if (std::getline(fields, epoch, ',') && std::getline(fields, step, ',') &&
        std::getline(fields, lr, ',') && std::getline(fields, loss, ',')) {
      try {
        points.push_back({std::stoll(step), std::stod(loss)});
      } catch (const std::exception&) {
      }
    }
  }
  return points;
}

// layer -> kind -> [(step, value)]
using LayerSeries = std::map<std::string, std::map<std::string, std::vector<std::pair<int64_t, double>>>>;

LayerSeries read_layer_stats(const std::string& path) {
  LayerSeries series;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string step, layer, kind, value;
    if (std::getline(fields, step, ',') && std::getline(fields, layer, ',') &&
        std::getline(fields, kind, ',') && std::getline(fields, value, ',')) {
      try {
        series[layer][kind].emplace_back(std::stoll(step), std::stod(value));
      } catch (const std::exception&) {
      }
    }
  }
  return series;
}

}  // namespace

bool gnuplot_available() { return std::system("gnuplot --version > /dev/null 2>&1") == 0; }

RunReport read_run(const std::string& run_dir) {
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
  run.final_test_acc = number_or_nan(summary, "final_test_acc");
  run.best_test_acc = number_or_nan(summary, "best_test_acc");
  run.images_per_s = number_or_nan(summary, "train_images_per_s");
  run.step_seconds = number_or_nan(summary, "mean_step_seconds");
  run.final_train_acc = number_or_nan(summary, "final_train_acc");
  run.epochs = read_epochs_csv((dir / "epochs.csv").string());

  if (fs::exists(dir / "config.yaml")) {
    YAML::Node config = YAML::LoadFile((dir / "config.yaml").string());
    run.norm = config["model"]["norm"].IsDefined() ? config["model"]["norm"].as<std::string>() : "batch";
    if (config["train"]["accuracy_threshold"].IsDefined())
      run.threshold = config["train"]["accuracy_threshold"].as<double>();
    YAML::Node stripped = YAML::Clone(config);
    stripped.remove("name");
    if (stripped["model"].IsMap()) stripped["model"].remove("norm");
    run.signature = to_yaml_string(stripped);
  }
  for (const EpochRecord& r : run.epochs)
    if (r.test_acc >= run.threshold) {
      run.epochs_to_threshold = r.epoch + 1;
      break;
    }
  return run;
}

std::string comparison_table(const std::vector<RunReport>& runs) {
  double threshold = runs.empty() ? 0.5 : runs.front().threshold;
  std::ostringstream out;
  out << "| variant | norm | final test acc | best test acc | epochs to " << percent(threshold)
      << " | diverged | step time (ms) | images/s | norm overhead | train-test gap |\n"
      << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const RunReport& r : runs) {
    std::string diverged = r.diverged ? "yes, step " + std::to_string(r.diverged_step) : "no";
    std::string reached = r.epochs_to_threshold > 0 ? std::to_string(r.epochs_to_threshold) : "never";
    std::string overhead = r.norm == "none" ? "(baseline)"
                           : r.has_baseline ? (r.overhead >= 0 ? "+" : "") + fixed(r.overhead * 100, 1) + "%"
                                            : "n/a";
    double gap = r.epochs.empty() ? std::nan("") : r.epochs.back().train_acc - r.epochs.back().test_acc;
    out << "| " << r.name << " | " << r.norm << " | " << percent(r.final_test_acc) << " | "
        << percent(r.best_test_acc) << " | " << reached << " | " << diverged << " | "
        << fixed(r.step_seconds * 1000, 1) << " | " << fixed(r.images_per_s, 0) << " | " << overhead
        << " | " << (std::isfinite(gap) ? fixed(gap * 100, 2) + " pts" : "n/a") << " |\n";
  }
  return out.str();
}

std::vector<RunReport> read_runs(const std::vector<std::string>& run_dirs) {
  CNN_CHECK(!run_dirs.empty(), "report: no run directories given");
  std::vector<RunReport> runs;
  for (const std::string& dir : run_dirs) runs.push_back(read_run(dir));
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

  // Data files for gnuplot (kept even when gnuplot is missing).
  bool any_stats = false;
  std::map<std::string, int> stat_blocks;  // "<run>_<kind>" -> layers written
  for (const RunReport& r : runs) {
    std::ofstream epochs(plots / (r.name + "_epochs.dat"));
    epochs << "# epoch train_loss train_acc test_loss test_acc\n";
    for (const EpochRecord& e : r.epochs)
      epochs << e.epoch + 1 << " " << e.train_loss << " " << e.train_acc << " " << e.test_loss
             << " " << e.test_acc << "\n";
    std::ofstream steps(plots / (r.name + "_steps.dat"));
    steps << "# step loss\n";
    for (const StepPoint& p : read_step_losses((fs::path(r.run_dir) / "metrics.csv").string()))
      steps << p.step << " " << (std::isfinite(p.loss) ? p.loss : std::nan("")) << "\n";
    fs::path stats_csv = fs::path(r.run_dir) / "layer_stats.csv";
    if (fs::exists(stats_csv)) {
      LayerSeries series = read_layer_stats(stats_csv.string());
      if (series.empty()) continue;
      any_stats = true;
      // Activations after each ReLU (and the logits), weights' gradients: one block each,
      // in layer order, so gnuplot draws one labelled line per layer.
      std::vector<std::string> layers;
      for (const auto& [layer, kinds] : series) layers.push_back(layer);
      std::stable_sort(layers.begin(), layers.end(), [](const std::string& a, const std::string& b) {
        return std::atoi(a.c_str()) < std::atoi(b.c_str());
      });
      std::ofstream act(plots / (r.name + "_activation_std.dat"));
      std::ofstream grad(plots / (r.name + "_grad_norm.dat"));
      for (const std::string& layer : layers) {
        const auto& kinds = series.at(layer);
        bool shown_activation = layer.ends_with(".relu") || layer.ends_with(".linear");
        if (kinds.count("activation_std") && shown_activation) {
          act << "\"" << layer << "\"\n";
          for (auto [step, v] : kinds.at("activation_std")) act << step << " " << v << "\n";
          act << "\n\n";
          stat_blocks[r.name + "_activation_std"] += 1;
        }
        if (kinds.count("grad_norm") && layer.ends_with(".weight")) {
          grad << "\"" << layer << "\"\n";
          for (auto [step, v] : kinds.at("grad_norm")) grad << step << " " << v << "\n";
          grad << "\n\n";
          stat_blocks[r.name + "_grad_norm"] += 1;
        }
      }
    }
  }

  std::ostringstream script;
  script << "set terminal pngcairo size 1200,450 noenhanced\nset grid\nset key outside right\n";
  script << "set output " << quoted((plots / "loss_accuracy.png").string()) << "\n";
  script << "set multiplot layout 1,2 title " << quoted(title) << "\n";
  script << "set xlabel 'epoch'\nset ylabel 'train loss'\nplot ";
  for (size_t i = 0; i < runs.size(); ++i)
    script << (i ? ", " : "") << quoted((plots / (runs[i].name + "_epochs.dat")).string())
           << " using 1:2 with linespoints title " << quoted(runs[i].name);
  script << "\nset ylabel 'test accuracy'\nplot ";
  for (size_t i = 0; i < runs.size(); ++i)
    script << (i ? ", " : "") << quoted((plots / (runs[i].name + "_epochs.dat")).string())
           << " using 1:5 with linespoints title " << quoted(runs[i].name);
  script << "\nunset multiplot\n";
  script << "set output " << quoted((plots / "step_loss.png").string()) << "\n";
  script << "set xlabel 'step'\nset ylabel 'batch loss'\nset logscale y\nplot ";
  for (size_t i = 0; i < runs.size(); ++i)
    script << (i ? ", " : "") << quoted((plots / (runs[i].name + "_steps.dat")).string())
           << " using 1:2 with lines title " << quoted(runs[i].name);
  script << "\nunset logscale y\n";
  if (any_stats) {
    for (const char* kind : {"activation_std", "grad_norm"}) {
      script << "set terminal pngcairo size " << 600 * runs.size() << ",450 noenhanced\n";
      script << "set output " << quoted((plots / (std::string(kind) + ".png")).string()) << "\n";
      script << "set multiplot layout 1," << runs.size() << " title "
             << quoted(std::string(kind == std::string("grad_norm")
                                       ? "gradient L2 norm per weight over training"
                                       : "activation std per layer over training"))
             << "\nset xlabel 'step'\nset ylabel "
             << quoted(kind == std::string("grad_norm") ? "gradient L2 norm" : "output std (ReLUs, logits)")
             << "\nset logscale y\nset key outside right font ',7'\n";
      for (const RunReport& r : runs) {
        fs::path data = plots / (r.name + "_" + kind + ".dat");
        script << "set title " << quoted(r.name) << "\n";
        int blocks = stat_blocks[r.name + "_" + kind];
        if (blocks > 0)
          script << "plot for [i=0:" << blocks - 1 << "] " << quoted(data.string())
                 << " index i using 1:2 with lines title columnheader(1)\n";
        else
          script << "plot 0 title 'no data'\n";
      }
      script << "unset multiplot\nunset logscale y\nunset title\n";
    }
  }
  fs::path script_path = plots / "plots.gp";
  {
    std::ofstream file(script_path);
    file << script.str();
  }
  std::string plot_note;
  if (gnuplot_available()) {
    std::string command = "gnuplot " + quoted(script_path.string()) + " > " +
                          quoted((plots / "gnuplot.log").string()) + " 2>&1";
    if (std::system(command.c_str()) != 0)
      plot_note = "gnuplot failed; see plots/gnuplot.log. The data files are in plots/.";
  } else {
    plot_note = "gnuplot is not installed (apt-get install gnuplot-nox), so no PNG plots were "
                "drawn; the data files and plots/plots.gp are in plots/.";
  }

  std::ostringstream md;
  md << "# " << title << "\n\n" << comparison_table(runs) << "\n";
  md << "Columns: final/best test accuracy in eval mode; epochs to reach the threshold "
        "(convergence speed); divergence (NaN/inf loss) and its step; mean optimizer step time and "
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
      md << "| " << e.epoch + 1 << " | " << fixed(e.train_loss, 4) << " | " << percent(e.train_acc)
         << " | " << fixed(e.test_loss, 4) << " | " << percent(e.test_acc) << " | "
         << fixed(e.seconds, 1) << " | " << fixed(e.images_per_s, 0) << " |\n";
    md << "\n";
  }
  fs::path report_path = out / "report.md";
  write_text_file_atomically(report_path.string(), md.str());
  return report_path.string();
}

}  // namespace cnn
