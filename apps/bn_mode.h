// `train.bn_mode`: what a run does with its batch-norm layers, the fine-tuning choice of
// the study's transfer claim (configs/study/finetune.yaml):
//   update      (default) as always: batch statistics in training, running ones updated,
//               weight and bias trained;
//   freeze      every BN layer normalises with its running statistics in training too, never
//               updates them, and its weight and bias are not trained (PyTorch:
//               bn.eval(); bn.requires_grad_(False), kept through train());
//   reestimate  as freeze during the steps; before every evaluation each BN's running
//               statistics are recomputed on the training set (AdaBN, Li et al. 2016): one
//               pass, BN layers alone in training mode, the running statistics reset and
//               fed a cumulative average of the batches' (PyTorch's momentum=None), no
//               weight changed.
// Group, layer and instance norm are not touched; a mode other than update on a model
// without batch norm is an error, since it would change nothing.
#pragma once

#include <string>

#include "data/loader.h"
#include "layers/module.h"

namespace cnn {

// Freezes every BN layer for freeze and reestimate (set_frozen, weight and bias
// requires_grad off, so the optimizer is built without them); update leaves the model as
// built. Errors name train.bn_mode and, for a layer without running statistics, the layer.
void apply_bn_mode(Module& model, const std::string& mode);

// Recomputes the running statistics of every BN layer of `model` from all of `loader`'s
// batches (in order, without augmentation: an evaluation loader over the training set),
// leaving weights, modes and momenta as they were. Returns the number of BN layers.
int reestimate_bn_statistics(Module& model, DataLoader& loader);

}  // namespace cnn
