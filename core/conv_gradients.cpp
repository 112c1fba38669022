// The convolution backward's shared kernels (see conv_gradients.h).
#include "core/conv_gradients.h"

#include "core/parallel.h"

namespace cnn {

void conv_bias_gradient(const float* gy, int64_t N, int64_t O, int64_t P, float* db) {
#pragma omp parallel for schedule(static) if (N * O * P > kParallelMinPlaneElements)
  for (int64_t o = 0; o < O; ++o) {
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* row = gy + (n * O + o) * P;
      float partial = 0.0f;
#pragma omp simd reduction(+ : partial)
      for (int64_t i = 0; i < P; ++i) partial += row[i];
      total += partial;
    }
    db[o] = static_cast<float>(total);
  }
}

void relu_mask_gradient(const float* gy, const float* y, int64_t n, float* out) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) {
    const float gradient = gy[i];
    out[i] = y[i] > 0.0f ? gradient : 0.0f;
  }
}

}  // namespace cnn
