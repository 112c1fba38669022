// Layer statistics for the "internal covariate shift" and gradient-flow plots: every
// N steps, each top-level layer's output mean and standard deviation and each
// parameter's gradient L2 norm, written to layer_stats.csv (step,layer,kind,value).
#pragma once

#include <string>
#include <vector>

#include "apps/run_files.h"
#include "layers/sequential.h"

namespace cnn {

struct LayerStat {
  int64_t step;
  std::string layer;  // "3.relu" or a parameter name "0.weight"
  std::string kind;   // activation_mean | activation_std | grad_norm
  double value;
};

class LayerStatsRecorder {
 public:
  LayerStatsRecorder(const std::string& csv_path, bool resuming, int64_t resume_step);
  void attach(Sequential& model, int64_t step);  // records outputs of the next forward
  void detach(Sequential& model);
  void record_gradients(const std::vector<NamedTensor>& parameters, int64_t step);
  // Statistics recorded since the last call (for the run store).
  std::vector<LayerStat> take_recent();

 private:
  void add(const LayerStat& stat);
  CsvWriter csv_;
  std::vector<LayerStat> recent_;
};

}  // namespace cnn
