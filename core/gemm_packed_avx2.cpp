// The packed GEMM for AVX2 + FMA (6 x 16 micro-kernel: 12 of the 16 ymm registers hold C),
// the only file compiled with -mavx2 -mfma (core/CMakeLists.txt); called only when cpuid and
// the OS say the CPU runs it.
#include <immintrin.h>

#include <cstdint>

#include "core/gemm_providers.h"

namespace {

struct V {
  using T = __m256;
  static constexpr int64_t W = 8;
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T load_first(const float* p, int64_t count) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lanes);
    return _mm256_maskload_ps(p, mask);
  }
  static float sum(T v) {  // 8 -> 4 -> 2 -> 1
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
};
constexpr cnn::PackedBlocking kBlock = cnn::kPackedAvx2;
constexpr int kDirectRows2 = 6, kDirectRows1 = 8;
constexpr int kDotRows = 2, kDotCols = 4;

}  // namespace

#include "core/gemm_packed_kernel.h"

namespace cnn {

void packed_sgemm_avx2(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                       float* pack_a, float* pack_b) {
  packed_block(g, r0, r1, c0, c1, pack_a, pack_b);
}

void dot_sgemm_avx2(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  dot_block(g, r0, r1, c0, c1);
}

int64_t direct_avx2_b_floats(const GemmArgs& g) {
  return direct_b_in_place(g) ? 0 : g.k * direct_width(g.n);
}

void direct_sgemm_avx2(const GemmArgs& g, int64_t r0, int64_t r1, float* b_buffer, bool pack) {
  if (direct_b_in_place(g)) return direct_block(g, r0, r1, g.b, g.ldb);
  if (pack) pack_b_direct(g, b_buffer);
  direct_block(g, r0, r1, b_buffer, direct_width(g.n));
}

}  // namespace cnn
