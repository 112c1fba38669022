// The two loops every element-wise op and its backward are made of (core/ops_*.cpp only):
// out[i] = f(x[i]), and dx[i] = dy[i] * derivative(saved[i]), in parallel past
// kParallelMinElements.
#pragma once

#include "core/parallel.h"
#include "core/tensor.h"

namespace cnn {

template <typename F>
Tensor map_unary(const Tensor& a_in, F f) {
  Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data();
  float* po = out.data();
  const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n > kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i]);
  return out;
}

// saved is the op's input or output, whichever the derivative is cheaper from.
template <typename F>
Tensor grad_times(const Tensor& grad, const Tensor& saved_in, F derivative) {
  Tensor g = grad.contiguous(), saved = saved_in.contiguous();
  Tensor out = Tensor::empty(saved.shape());
  const float* pg = g.data();
  const float* ps = saved.data();
  float* po = out.data();
  const int64_t n = saved.numel();
#pragma omp parallel for schedule(static) if (n > kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) po[i] = pg[i] * derivative(ps[i]);
  return out;
}

}  // namespace cnn
