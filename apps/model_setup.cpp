// Model, optimizer and thread set-up shared by the subcommands.
#include "apps/model_setup.h"

#include <omp.h>

#include "core/gemm.h"
#include "core/precision.h"
#include "layers/builder.h"
#include "layers/fusion.h"
#include "layers/param_groups.h"
#include "optim/factory.h"

namespace cnn {

Shape model_input_shape(const DataConfig& data) {
  if (data.dataset == "cifar10") return {1, 3, 32, 32};
  return {1, 3, data.image_height, data.image_width};
}

std::shared_ptr<Sequential> build_model_from_config(const Config& config, const DataConfig& data) {
  Generator generator(config.seed);
  return build_model(config.root["model"], model_input_shape(data), generator, "model");
}

std::unique_ptr<Optimizer> make_model_optimizer(const YAML::Node& optim, const Module& model,
                                                const std::string& path) {
  // As PyTorch's `filter(lambda p: p.requires_grad, ...)`: parameters frozen by
  // train.bn_mode are neither stepped nor decayed, and have no optimizer state.
  std::vector<NamedTensor> trainable;
  for (const auto& [name, tensor] : model.named_parameters())
    if (tensor.requires_grad()) trainable.emplace_back(name, tensor);
  return make_optimizer(optim, trainable, no_decay_parameter_names(model), path);
}

int fuse_for_run(Sequential& model) {
  return fuse_for_evaluation(model);
}

void apply_thread_setting(int64_t threads) {
  if (threads <= 0) return;
  omp_set_num_threads(static_cast<int>(threads));
  set_blas_threads(static_cast<int>(threads));
}

void apply_precision_setting(const std::string& precision) {
  set_compute_precision(precision_from_name(precision, "train.precision"));
}

}  // namespace cnn
