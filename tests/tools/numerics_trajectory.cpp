// The cnnlab side of scripts/numerics_drift.py: trains a config's model from given weights
// on given batches and prints the loss of every step as JSON, so the script can set it
// beside PyTorch's fp32 and float64 trajectories (docs/numerics.md).
//
//   numerics_trajectory CONFIG INIT.safetensors BATCHES.safetensors [GRADIENTS.safetensors]
//                       [key=value ...]
//
// BATCHES holds `images` float [S, B, C, H, W] and `labels` int64 [S, B]; every step takes
// the next batch, with the config's optimizer and constant learning rate (the overrides,
// e.g. optim.lr=0.05 or model.conv_algorithm=im2col, are applied to the config first).
// With GRADIENTS, the first step's parameter gradients are written there (by name).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "apps/config.h"
#include "apps/model_setup.h"
#include "apps/train_step.h"
#include "core/safetensors.h"
#include "data/config.h"

using namespace cnn;

namespace {

Tensor find_tensor(const SafetensorsFile& file, const std::string& name, const std::string& path) {
  for (const auto& [key, tensor] : file.tensors)
    if (key == name) return tensor;
  CNN_FAIL(path, ": no tensor named '", name, "'");
}

// Step s's batch: images [B, C, H, W] and labels [B], copied out of the stacked tensors.
Batch batch_at(const Tensor& images, const Tensor& labels, int64_t s) {
  Shape shape(images.shape().begin() + 1, images.shape().end());
  Batch batch{Tensor::empty(shape), Tensor::empty({labels.size(1)}, DType::Int64), s};
  const int64_t floats = batch.images.numel(), count = labels.size(1);
  std::copy_n(images.data() + s * floats, floats, batch.images.data());
  std::copy_n(labels.data_i64() + s * count, count, batch.labels.data_i64());
  return batch;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: numerics_trajectory CONFIG INIT.safetensors BATCHES.safetensors "
                 "[key=value ...]\n";
    return 2;
  }
  try {
    int first_override = 4;
    std::string gradients_path;
    if (argc > 4 && std::string(argv[4]).find('=') == std::string::npos)
      gradients_path = argv[first_override++];
    const Config config =
        load_config(argv[1], std::vector<std::string>(argv + first_override, argv + argc));
    const DataConfig data = parse_data_config(config.root["data"], "data");
    auto model = build_model_from_config(config, data);
    model->load_state_dict(load_safetensors(argv[2]).tensors);
    auto optimizer = make_model_optimizer(config.root["optim"], *model);
    const SafetensorsFile batches = load_safetensors(argv[3]);
    const Tensor images = find_tensor(batches, "images", argv[3]);
    const Tensor labels = find_tensor(batches, "labels", argv[3]);
    model->train();
    std::printf("{\"losses\": [");
    for (int64_t s = 0; s < labels.size(0); ++s) {
      const TrainStepResult r =
          train_step(*model, *optimizer, nullptr, s, batch_at(images, labels, s), {});
      std::printf("%s%.9g", s ? ", " : "", r.loss);
      if (s == 0 && !gradients_path.empty()) {
        std::vector<NamedTensor> gradients;
        for (const auto& [name, t] : model->named_parameters())
          gradients.push_back({name, t.grad()});
        save_safetensors(gradients_path, gradients);
      }
    }
    std::printf("]}\n");
  } catch (const std::exception& e) {
    std::cerr << "numerics_trajectory: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
