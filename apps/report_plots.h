// The plots of a report, drawn with gnuplot into its plots/ folder: train loss and test
// accuracy per epoch on shared axes, per-step loss, and, when recorded, per-layer activation
// std and gradient norms over training. The data files and plots.gp stay beside the PNGs
// (and are all there is when gnuplot is missing).
#pragma once

#include <string>
#include <vector>

#include "apps/report.h"

namespace cnn {

struct Plots {
  std::string note;          // why there are no PNGs (gnuplot missing or failed); "" when drawn
  bool layer_stats = false;  // the activation_std and grad_norm plots exist
};

Plots draw_plots(const std::vector<RunReport>& runs, const std::string& plots_dir,
                 const std::string& title);

// True when `gnuplot` can be run.
bool gnuplot_available();

}  // namespace cnn
