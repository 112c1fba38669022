// Layer statistics for the "internal covariate shift" and gradient-flow plots: every
// N steps, each top-level layer's output mean and standard deviation and each
// parameter's gradient L2 norm, handed to the run recorder (layer_stats.csv and the store).
// A recorded step wants each layer's own output, so attach unfuses the model for that
// forward and detach fuses it again (the tape keeps what the forward recorded); the other
// steps run fused.
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
  bool was_fused_ = false;  // detach fuses the model again
};

}  // namespace cnn
