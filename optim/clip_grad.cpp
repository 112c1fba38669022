// Global-norm gradient clipping. The squared norm is accumulated in double, so the result
// does not depend on how many parameters there are or in what order they come.
#include "optim/clip_grad.h"

#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace cnn {

double grad_norm(const std::vector<Tensor>& params) {
  double sum_of_squares = 0.0;
  for (const Tensor& param : params) {
    Tensor grad = param.defined() ? param.grad() : Tensor();
    if (!grad.defined()) continue;
    grad = grad.contiguous();
    const float* g = grad.data();
    const int64_t n = grad.numel();
    double partial = 0.0;
#pragma omp parallel for reduction(+ : partial) if (n > kParallelMinUpdateElements)
    for (int64_t k = 0; k < n; ++k) partial += static_cast<double>(g[k]) * g[k];
    sum_of_squares += partial;
  }
  return std::sqrt(sum_of_squares);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  CNN_CHECK(max_norm > 0.0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  const double norm = grad_norm(params);
  if (!std::isfinite(norm)) return norm;
  const double scale = max_norm / (norm + 1e-6);  // PyTorch's epsilon
  if (scale >= 1.0) return norm;
  const float factor = static_cast<float>(scale);
  for (const Tensor& param : params) {
    Tensor grad = param.defined() ? param.grad() : Tensor();
    if (!grad.defined()) continue;
    CNN_CHECK(grad.is_contiguous(), "clip_grad_norm: expected contiguous gradients");
    float* g = grad.data();
    const int64_t n = grad.numel();
#pragma omp parallel for if (n > kParallelMinUpdateElements)
    for (int64_t k = 0; k < n; ++k) g[k] *= factor;
  }
  return norm;
}

}  // namespace cnn
