// The gradient checker every op and layer test uses: compares the tape's gradient of
// L = sum(w * f(inputs)) (w a fixed random projection, so every output element counts)
// with central finite differences accumulated in double.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cnn::testing {

struct GradCheckOptions {
  double eps = 1e-2;   // finite-difference step
  double atol = 2e-3;  // pass when |analytic - numeric| <= atol + rtol * max(|a|, |n|)
  double rtol = 2e-2;
  // Caffe's kink guard: skip input elements within `kink_range` of `kink` (e.g. ReLU at 0),
  // where a finite difference straddles the non-differentiable point.
  bool use_kink = false;
  float kink = 0.0f;
  float kink_range = 0.0f;
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Runs the check for every input with requires_grad set; fails the current Catch2 test
// (naming `what`, the input index and element) on the first mismatch per input.
void check_gradients(const std::string& what, const TensorFn& f, std::vector<Tensor> inputs,
                     const GradCheckOptions& options = {});

}  // namespace cnn::testing
