// Scaling a built model's initial weights (see init_scale.h).
#include "layers/init_scale.h"

#include "layers/registry.h"

namespace cnn {

int scale_initial_weights(Module& model, float scale) {
  if (!model.children().empty()) {  // a container: its leaves hold the weights
    int scaled = 0;
    for (const auto& child : model.children())
      scaled += scale_initial_weights(*child.second, scale);
    return scaled;
  }
  const LayerInfo* info = find_layer(model.type());
  if (info && info->is_normalization) return 0;
  int scaled = 0;
  for (auto& named : model.named_parameters()) {
    if (named.first != "weight") continue;
    Tensor& weight = named.second;  // shares the layer's storage
    float* w = weight.data();
    for (int64_t i = 0, n = weight.numel(); i < n; ++i) w[i] *= scale;
    ++scaled;
  }
  return scaled;
}

}  // namespace cnn
