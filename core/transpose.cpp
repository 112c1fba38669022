// Blocked transpose: an 8x8 block is 8 row loads, 24 shuffles and 8 row stores, instead of
// 64 single-float moves with one side strided.
#include "core/transpose.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace cnn {

namespace {

template <bool kAdd>
void transpose_scalar(const float* src, int64_t src_stride, int64_t rows, int64_t cols,
                      float* dst, int64_t dst_stride) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      if constexpr (kAdd) {
        dst[j * dst_stride + i] += src[i * src_stride + j];
      } else {
        dst[j * dst_stride + i] = src[i * src_stride + j];
      }
    }
}

#if defined(__AVX__)
template <bool kAdd>
inline void transpose_8x8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  const __m256 out[8] = {
      _mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
      _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
      _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
      _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
  for (int j = 0; j < 8; ++j) {
    float* row = dst + j * dst_stride;
    if constexpr (kAdd) {
      _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), out[j]));
    } else {
      _mm256_storeu_ps(row, out[j]);
    }
  }
}
#endif

template <bool kAdd>
void transpose_blocked(const float* src, int64_t src_stride, int64_t rows, int64_t cols,
                       float* dst, int64_t dst_stride) {
  int64_t full_rows = 0, full_cols = 0;
#if defined(__AVX__)
  full_rows = rows / 8 * 8;
  full_cols = cols / 8 * 8;
  for (int64_t i = 0; i < full_rows; i += 8)
    for (int64_t j = 0; j < full_cols; j += 8)
      transpose_8x8<kAdd>(src + i * src_stride + j, src_stride, dst + j * dst_stride + i,
                          dst_stride);
#endif
  // The edges: the last columns of the full rows, then the last rows.
  transpose_scalar<kAdd>(src + full_cols, src_stride, full_rows, cols - full_cols,
                         dst + full_cols * dst_stride, dst_stride);
  transpose_scalar<kAdd>(src + full_rows * src_stride, src_stride, rows - full_rows, cols,
                         dst + full_rows, dst_stride);
}

}  // namespace

void transpose(const float* src, int64_t src_stride, int64_t rows, int64_t cols, float* dst,
               int64_t dst_stride) {
  transpose_blocked<false>(src, src_stride, rows, cols, dst, dst_stride);
}

void transpose_add(const float* src, int64_t src_stride, int64_t rows, int64_t cols,
                   float* dst, int64_t dst_stride) {
  transpose_blocked<true>(src, src_stride, rows, cols, dst, dst_stride);
}

}  // namespace cnn
