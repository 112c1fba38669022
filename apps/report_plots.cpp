// The report's plots: gnuplot data files from the runs' records, the script that draws
// them, and gnuplot run on it (see report_plots.h).
#include "apps/report_plots.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace cnn {

namespace {

// A quoted gnuplot string.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// layer -> kind -> [(step, value)]
using LayerSeries = std::map<std::string, std::map<std::string, std::vector<std::pair<int64_t, double>>>>;

LayerSeries layer_series(const std::vector<LayerStatRow>& rows) {
  LayerSeries series;
  for (const LayerStatRow& row : rows) series[row.layer][row.kind].emplace_back(row.step, row.value);
  return series;
}

using StatBlocks = std::map<std::string, int>;  // "<run>_<kind>" -> layers written

// Writes <run>_epochs.dat and <run>_steps.dat for each run, and, for runs with layer
// statistics, one block per layer of <run>_activation_std.dat and <run>_grad_norm.dat.
StatBlocks write_plot_data(const std::vector<RunReport>& runs, const fs::path& plots) {
  StatBlocks stat_blocks;
  for (const RunReport& r : runs) {
    std::ofstream epochs(plots / (r.name + "_epochs.dat"));
    epochs << "# epoch train_loss train_acc test_loss test_acc\n";
    for (const EpochRecord& e : r.epochs)
      epochs << e.epoch << " " << e.train_loss << " " << e.train_acc << " " << e.test_loss
             << " " << e.test_acc << "\n";
    std::ofstream steps(plots / (r.name + "_steps.dat"));
    steps << "# step loss\n";
    for (const StepRow& p : r.steps)
      steps << p.step << " " << (std::isfinite(p.loss) ? p.loss : std::nan("")) << "\n";
    if (!r.layer_stats.empty()) {
      LayerSeries series = layer_series(r.layer_stats);
      if (series.empty()) continue;
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

  return stat_blocks;
}

std::string gnuplot_script(const std::vector<RunReport>& runs, const fs::path& plots,
                           const std::string& title, const StatBlocks& stat_blocks) {
  const bool any_stats = !stat_blocks.empty();
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
  script << "set xlabel 'step'\nset ylabel 'batch loss'\nset logscale y\n";
  // A dashed line where a run diverged or began to collapse, labelled with its name.
  for (const RunReport& r : runs)
    for (auto [step, what] : {std::pair{r.diverged ? r.diverged_step : -1, "diverged"},
                              std::pair{r.collapsed ? r.collapsed_step : -1, "collapsed"}})
      if (step >= 0)
        script << "set arrow from " << step << ", graph 0 to " << step
               << ", graph 1 nohead dashtype 2\nset label " << quoted(r.name + " " + what)
               << " at " << step << ", graph 0.95 rotate by 90 right\n";
  script << "plot ";
  for (size_t i = 0; i < runs.size(); ++i)
    script << (i ? ", " : "") << quoted((plots / (runs[i].name + "_steps.dat")).string())
           << " using 1:2 with lines title " << quoted(runs[i].name);
  script << "\nunset logscale y\nunset arrow\nunset label\n";
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
        auto found = stat_blocks.find(r.name + "_" + kind);
        int blocks = found == stat_blocks.end() ? 0 : found->second;
        if (blocks > 0)
          script << "plot for [i=0:" << blocks - 1 << "] " << quoted(data.string())
                 << " index i using 1:2 with lines title columnheader(1)\n";
        else
          script << "plot 0 title 'no data'\n";
      }
      script << "unset multiplot\nunset logscale y\nunset title\n";
    }
  }
  return script.str();
}

}  // namespace

bool gnuplot_available() { return std::system("gnuplot --version > /dev/null 2>&1") == 0; }

Plots draw_plots(const std::vector<RunReport>& runs, const std::string& plots_dir,
                 const std::string& title) {
  const fs::path plots(plots_dir);
  const StatBlocks stat_blocks = write_plot_data(runs, plots);
  Plots result;
  result.layer_stats = !stat_blocks.empty();
  const std::string script = gnuplot_script(runs, plots, title, stat_blocks);
  fs::path script_path = plots / "plots.gp";
  {
    std::ofstream file(script_path);
    file << script;
  }
  if (gnuplot_available()) {
    std::string command = "gnuplot " + quoted(script_path.string()) + " > " +
                          quoted((plots / "gnuplot.log").string()) + " 2>&1";
    if (std::system(command.c_str()) != 0)
      result.note = "gnuplot failed; see plots/gnuplot.log. The data files are in plots/.";
  } else {
    result.note = "gnuplot is not installed (apt-get install gnuplot-nox), so no PNG plots were "
                "drawn; the data files and plots/plots.gp are in plots/.";
  }

  return result;
}

}  // namespace cnn
