// Layer statistics recorder.
#include "apps/layer_stats.h"

#include <cmath>
#include <sstream>

#include "layers/fusion.h"

namespace cnn {

void LayerStatsRecorder::attach(Sequential& model, int64_t step) {
  was_fused_ = model.fused();
  if (was_fused_) unfuse(model);
  model.set_observer([this, step](const std::string& name, const Module& layer, const Tensor& output) {
    Tensor out = output.contiguous();
    const float* p = out.data();
    double sum = 0.0, sum_sq = 0.0;
    int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) {
      sum += p[i];
      sum_sq += static_cast<double>(p[i]) * p[i];
    }
    double mean = n ? sum / n : 0.0;
    double var = n ? std::max(0.0, sum_sq / n - mean * mean) : 0.0;
    std::string label = name + "." + layer.type();
    recent_.push_back(LayerStatRow{step, label, "activation_mean", mean});
    recent_.push_back(LayerStatRow{step, label, "activation_std", std::sqrt(var)});
  });
}

void LayerStatsRecorder::detach(Sequential& model) {
  model.set_observer(nullptr);
  if (was_fused_) fuse_for_evaluation(model);
}

void LayerStatsRecorder::record_gradients(const std::vector<NamedTensor>& parameters, int64_t step) {
  for (const auto& [name, parameter] : parameters) {
    Tensor grad = parameter.grad();
    if (!grad.defined()) continue;
    Tensor g = grad.contiguous();
    double sum_sq = 0.0;
    for (int64_t i = 0; i < g.numel(); ++i) sum_sq += static_cast<double>(g.data()[i]) * g.data()[i];
    recent_.push_back(LayerStatRow{step, name, "grad_norm", std::sqrt(sum_sq)});
  }
}

std::vector<LayerStatRow> LayerStatsRecorder::take_recent() {
  std::vector<LayerStatRow> out;
  out.swap(recent_);
  return out;
}

}  // namespace cnn
