// bf16 conversions on AVX-512 (integer arithmetic, the same rounding as bf16.h's scalar
// code; VCVTNEPS2BF16 is not used since it flushes subnormals). The only file of bf16's
// compiled with -mavx512f -mavx512bw (core/CMakeLists.txt), called when cpuid says so.
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "core/bf16.h"

namespace cnn {

namespace {

// 16 floats -> their bf16 bits in the low half of each 32-bit lane.
inline __m512i rounded_high_halves(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  return _mm512_mask_blend_epi32(nan, rounded, quiet);
}

inline __mmask16 first(int64_t count) { return static_cast<__mmask16>((1u << count) - 1); }

}  // namespace

void float_to_bf16_avx512(const float* x, int64_t n, bf16* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtepi32_epi16(rounded_high_halves(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 m = first(n - i);
    _mm512_mask_cvtepi32_storeu_epi16(y + i, m,
                                      rounded_high_halves(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void bf16_to_float_avx512(const bf16* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    _mm512_storeu_si512(y + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  if (i < n) {
    const __mmask16 m = first(n - i);
    const __m256i h = _mm256_maskz_loadu_epi16(m, x + i);
    _mm512_mask_storeu_epi32(y + i, m, _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

void round_to_bf16_avx512(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_si512(y + i, _mm512_slli_epi32(rounded_high_halves(_mm512_loadu_ps(x + i)), 16));
  if (i < n) {
    const __mmask16 m = first(n - i);
    _mm512_mask_storeu_epi32(
        y + i, m, _mm512_slli_epi32(rounded_high_halves(_mm512_maskz_loadu_ps(m, x + i)), 16));
  }
}

}  // namespace cnn
