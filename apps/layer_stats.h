// Layer statistics for the "internal covariate shift" and gradient-flow plots: every
// N steps, each top-level layer's output mean and standard deviation and each
// parameter's gradient L2 norm, handed to the run recorder (layer_stats.csv and the store).
// The model must be unfused (each layer's own output): fuse_for_run skips the fusion pass
// when train.layer_stats_every > 0, and Sequential::set_observer refuses a fused model.
#pragma once

#include <string>
#include <vector>

#include "apps/run_records.h"
#include "layers/sequential.h"

namespace cnn {


class LayerStatsRecorder {
 public:
  void attach(Sequential& model, int64_t step);  // records outputs of the next forward
  void detach(Sequential& model);
  void record_gradients(const std::vector<NamedTensor>& parameters, int64_t step);
  // Statistics recorded since the last call; layer names are
  // "<index>.<type>" for activations and parameter names for gradients.
  std::vector<LayerStatRow> take_recent();

 private:
  std::vector<LayerStatRow> recent_;
};

}  // namespace cnn
