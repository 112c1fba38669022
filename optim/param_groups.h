// Splitting a model's parameters into weight-decay groups.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"
#include "optim/optimizer.h"

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

// Without exclusion: one group ("all") with every parameter and `weight_decay`.
// With exclusion: a "decay" group with `weight_decay` and a "no_decay" group (the
// parameters above) with weight_decay 0. Empty groups are left out. lr stays unset, so
// the optimizer's lr applies.
std::vector<ParamGroup> make_param_groups(const Module& model, double weight_decay,
                                          bool exclude_norm_and_bias);

}  // namespace cnn
