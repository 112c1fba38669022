// Folding batch normalization into the convolution before it, for inference: an eval-mode
// BN is a per-channel affine, so conv -> BN equals one conv with rescaled weights and a
// shifted bias, and the BN's time is saved.
//
//   model->eval();
//   int folded = fold_batchnorm(*model);  // outputs unchanged (to float rounding)
//   fuse_for_evaluation(*model);          // layers/fusion.h: the folded convs take the ReLUs
#pragma once

#include "layers/module.h"

namespace cnn {

// Walks `model` and every Sequential among its descendants (residual bodies and shortcuts
// included); each Conv2d immediately followed by a BatchNorm2d with running statistics in
// eval mode (or frozen) gets
//   w' = w * gamma/sqrt(var + eps)             (per output channel)
//   b' = (b - mean) * gamma/sqrt(var + eps) + beta   (a bias is created when absent)
// and the BN is replaced by an Identity (indices and other names stay; the fusion passes
// skip identities). Any fused steps are removed first (unfuse): run the fusion pass again
// after folding. Returns the number folded. Throws when the model is in training mode:
// batch statistics cannot be folded.
int fold_batchnorm(Module& model);

}  // namespace cnn
