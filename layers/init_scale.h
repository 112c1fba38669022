// `model.init_scale`: every weight of a freshly built model multiplied by one factor, the
// study's "sensitivity to initialization" knob (weights x0.1, x1, x10 at init).
#pragma once

#include "layers/module.h"

namespace cnn {

// The accepted range of model.init_scale: beyond x1000 either way a float32 net is only
// measuring underflow or overflow, not the initialization.
constexpr double kMinInitScale = 1e-3, kMaxInitScale = 1e3;

// Multiplies the `weight` of every layer that is not a normalization (conv2d, linear: the
// layers whose init sets the signal's scale) by `scale`, after their own init (Kaiming
// uniform, PyTorch's). Biases and the normalizations' affine weights keep their init, so with
// BN only the scale BN removes is changed. A pass run once on a built model; the layers know
// nothing of it. Returns the number of weights scaled.
int scale_initial_weights(Module& model, float scale);

}  // namespace cnn
