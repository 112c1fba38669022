// bf16 array conversions (see bf16.h): dispatch to the AVX-512 loops or the scalar ones.
#include "core/bf16.h"

#include "core/gemm.h"

namespace cnn {

// core/bf16_avx512.cpp, compiled with -mavx512f -mavx512bw alone.
void float_to_bf16_avx512(const float* x, int64_t n, bf16* y);
void bf16_to_float_avx512(const bf16* x, int64_t n, float* y);
void round_to_bf16_avx512(const float* x, int64_t n, float* y);

void float_to_bf16_scalar(const float* x, int64_t n, bf16* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_bf16(x[i]);
}

void bf16_to_float_scalar(const bf16* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_float(x[i]);
}

void round_to_bf16_scalar(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = round_to_bf16(x[i]);
}

bool bf16_arrays_vectorized() { return gemm_isa() >= Isa::avx512; }

void float_to_bf16(const float* x, int64_t n, bf16* y) {
  if (bf16_arrays_vectorized()) return float_to_bf16_avx512(x, n, y);
  float_to_bf16_scalar(x, n, y);
}

void bf16_to_float(const bf16* x, int64_t n, float* y) {
  if (bf16_arrays_vectorized()) return bf16_to_float_avx512(x, n, y);
  bf16_to_float_scalar(x, n, y);
}

void round_to_bf16(const float* x, int64_t n, float* y) {
  if (bf16_arrays_vectorized()) return round_to_bf16_avx512(x, n, y);
  round_to_bf16_scalar(x, n, y);
}

}  // namespace cnn
