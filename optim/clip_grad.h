// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace cnn {

// Scales every defined gradient of `params` by max_norm / (norm + 1e-6) when that is
// below 1, where norm is the L2 norm of all gradients together; returns the norm before
// clipping. Parameters without a gradient are skipped. A non-finite norm (inf/nan) is
// returned with the gradients left as they are, so the caller can skip the step.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// The global L2 norm of the defined gradients, without changing them.
double grad_norm(const std::vector<Tensor>& params);

}  // namespace cnn
