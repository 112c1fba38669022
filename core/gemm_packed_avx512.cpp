// The packed GEMM for AVX-512 (12 x 32 micro-kernel: 24 of the 32 zmm registers hold C),
// the only file compiled with -mavx512f (core/CMakeLists.txt); called only when cpuid and
// the OS say the CPU runs it.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics pass an _mm512_undefined_ps() operand that -Wuninitialized
// reports at every use (a known false positive of those headers).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstdint>

#include "core/gemm_providers.h"

namespace {

struct V {
  using T = __m512;
  static constexpr int64_t W = 16;
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T load_first(const float* p, int64_t count) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
  }
  static float sum(T v) {  // 16 -> 8 -> 4 -> 2 -> 1 (lanes i and i + 8, then i + 4, ...)
    T h = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
    h = _mm512_add_ps(h, _mm512_shuffle_f32x4(h, h, 0xb1));
    __m128 q = _mm512_castps512_ps128(h);
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
};
constexpr cnn::PackedBlocking kBlock = cnn::kPackedAvx512;
constexpr int kDirectRows2 = 8, kDirectRows1 = 8;
constexpr int kDotRows = 4, kDotCols = 4;

}  // namespace

#include "core/gemm_packed_kernel.h"

namespace cnn {

void packed_sgemm_avx512(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                         float* pack_a, float* pack_b) {
  packed_block(g, r0, r1, c0, c1, pack_a, pack_b);
}

void dot_sgemm_avx512(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  dot_block(g, r0, r1, c0, c1);
}

int64_t direct_avx512_b_floats(const GemmArgs& g) {
  return direct_b_in_place(g) ? 0 : g.k * direct_width(g.n);
}

void direct_sgemm_avx512(const GemmArgs& g, int64_t r0, int64_t r1, float* b_buffer, bool pack) {
  if (direct_b_in_place(g)) return direct_block(g, r0, r1, g.b, g.ldb);
  if (pack) pack_b_direct(g, b_buffer);
  direct_block(g, r0, r1, b_buffer, direct_width(g.n));
}

}  // namespace cnn
