// Shared set-up for every subcommand: the model's input shape from the data section,
// building the model and its optimizer, and the kernel/BLAS thread count.
#pragma once

#include <memory>

#include "apps/config.h"
#include "core/random.h"
#include "data/config.h"
#include "layers/sequential.h"
#include "optim/optimizer.h"

namespace cnn {

// [1, C, H, W] for the configured dataset (CIFAR-10: [1, 3, 32, 32]; image folders: their resize).
Shape model_input_shape(const DataConfig& data);

// Builds the model from config.root["model"], initialised from the config's seed. Unfused.
std::shared_ptr<Sequential> build_model_from_config(const Config& config, const DataConfig& data);

// The optimizer of the config's `optim` section over `model`'s parameters that require a
// gradient (not the BN parameters train.bn_mode froze); with
// exclude_norm_and_bias, the parameters no_decay_parameter_names(model) names get no weight
// decay (optim/factory.h: make_optimizer).
std::unique_ptr<Optimizer> make_model_optimizer(const YAML::Node& optim, const Module& model,
                                                const std::string& path = "optim");

// Fuses a model that trains and is evaluated between epochs (train, bench): the evaluation
// pass (layers/fusion.h), whose evaluation-only steps run the training ops under the tape,
// so the steps are fused one way and each epoch's evaluation the other. (The steps that
// record layer statistics run unfused: LayerStatsRecorder::attach.) Returns the number of
// fused steps.
int fuse_for_run(Sequential& model);

// train.threads (0 = all cores) for OpenMP kernels and OpenBLAS.
void apply_thread_setting(int64_t threads);

// train.precision (fp32 | bf16) for the process's GEMMs (core/precision.h).
void apply_precision_setting(const std::string& precision);

}  // namespace cnn
