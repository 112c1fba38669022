// Fusion passes: rewrite a built model once so that a layer applies what follows it as it
// writes its output (one pass over the activations less each way), the way fold_batchnorm
// rewrites it. Containers stay plain loops: a pass installs, in each Sequential, steps that
// stand for runs of its children (Sequential::set_steps). The children themselves, and so
// the state-dict names and order ("3.weight", "0.body.1.running_mean"), do not change;
// load_state_dict works on a fused model, and every step runs the same kernels on the same
// data in the same order as the layers one after the other.
//
//   auto model = build_model(...);
//   fuse_for_evaluation(*model);     // a model that trains and is evaluated each epoch
//   ...
//   model->eval();                   // a model only evaluated:
//   fold_batchnorm(*model);          //   BN into the convs (drops the fused steps),
//   fuse_for_evaluation(*model);     //   then fused again
//
// The passes know the layers that are absorbed (relu, a 2x2 max-pool, identities, which
// they skip, residual blocks); the layer that absorbs them is asked through the hooks of
// layers/module.h (absorbs_relu / forward_relu, forward_relu_max_pool2x2,
// forward_add_relu), so a user-defined layer takes part by overriding them. The one
// exception is the basic block run image by image, a Conv2d kernel (PreparedConv2d).
//
// One model object both trains and is evaluated between epochs. So every step the
// evaluation pass adds runs its fused kernel only off the tape (grad mode off, as
// evaluate() runs) and otherwise exactly what the training pass's steps run: a model that
// trains takes fuse_for_evaluation too (apps/model_setup.h's fuse_for_run), and its
// per-epoch evaluation keeps the evaluation fusions. Layer statistics want every layer's own
// output: the steps that record them unfuse the model and fuse it again after their forward
// (Sequential::set_observer refuses a fused model).
#pragma once

#include "layers/module.h"

namespace cnn {

// Fusions exact under the tape, for training and evaluation alike: in every Sequential
// (residual bodies and shortcuts included) a layer that absorbs_relu(), followed by a relu
// (identities between allowed, as BN folding and `norm: none` leave them), runs as one
// forward_relu step. Identities are dropped from the steps. Returns the number of fused
// steps.
int fuse_for_training(Module& model);

// fuse_for_training's fusions and, run only when grad mode is off (else the training
// steps' ops):
//   - layer + relu + maxpool2d (kernel 2, stride 2, no padding): forward_relu_max_pool2x2
//     (conv2d: the Winograd kernel writes the pooled map);
//   - a residual block with relu after the sum: the body's last step (identities after it
//     skipped) writes max(y + shortcut, 0) through forward_add_relu;
//   - a ResNet basic block (body conv2d -> relu -> conv2d, shortcut none or one conv2d, as
//     BN folding leaves it) run image by image with the maps in cache.
// Returns the number of fused steps.
int fuse_for_evaluation(Module& model);

// Removes every fused step: each Sequential runs its children again. fold_batchnorm calls
// it (its steps would still hold the folded BN layers).
void unfuse(Module& model);

}  // namespace cnn
