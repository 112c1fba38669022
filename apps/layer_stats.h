// Layer statistics for the "internal covariate shift" and gradient-flow plots: every
// N steps, each top-level layer's output mean and standard deviation and each
// parameter's gradient L2 norm, written to layer_stats.csv (step,layer,kind,value).
#pragma once

#include <string>
#include <vector>

#include "apps/run_files.h"
#include "apps/run_store.h"
#include "layers/sequential.h"

namespace cnn {


class LayerStatsRecorder {
 public:
  LayerStatsRecorder(const std::string& csv_path, bool resuming, int64_t resume_step);
  void attach(Sequential& model, int64_t step);  // records outputs of the next forward
  void detach(Sequential& model);
  void record_gradients(const std::vector<NamedTensor>& parameters, int64_t step);
  // Statistics recorded since the last call (for the run store); layer names are
  // "<index>.<type>" for activations and parameter names for gradients.
  std::vector<LayerStatRow> take_recent();

 private:
  void add(const LayerStatRow& stat);
  CsvWriter csv_;
  std::vector<LayerStatRow> recent_;
};

}  // namespace cnn
