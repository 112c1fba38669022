// Which of a model's parameters weight decay should spare (`exclude_norm_and_bias`): decided
// here, where modules and the layer registry are known; optim/param_groups.h makes the groups.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"

namespace cnn {

// The module types whose parameters are normalization parameters (their weights need not
// be 1-D: LayerNorm's weight is [C,H,W]).
bool is_normalization_type(const std::string& type);

// Names (as in named_parameters) of the parameters that weight decay should spare:
// every parameter with ndim <= 1 (biases, BN/GN gamma and beta) and every parameter of a
// module whose type() is a normalization (batchnorm1d/2d, groupnorm, layernorm,
// instancenorm2d, or any registered layer marked is_normalization), found by walking
// Module::children().
std::vector<std::string> no_decay_parameter_names(const Module& model);

}  // namespace cnn
