// cnnlab's own bf16 GEMM on AVX512-BF16 (vdpbf16ps), the only file compiled with
// -mavx512bf16 (core/CMakeLists.txt); called only when cpuid says the CPU has it.
//
// op(A) is rounded into rows of K2 = K rounded up to even bf16 (the odd tail a zero), op(B)
// into panels of 32 columns holding, for each pair of k, the 32 columns' two values side by
// side: one vdpbf16ps then adds a[i][2p] b[2p][j] + a[i][2p+1] b[2p+1][j] into 16 columns'
// fp32 sums. The micro-kernel keeps a 12 x 32 tile of C in 24 zmm registers over the whole K
// (each element of C written once: alpha * sum + beta * C); rows past M repeat the last row
// (computed, never stored), columns past N are zeros in the panel and masked in the store.
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/bf16.h"
#include "core/gemm_bf16_packed.h"

namespace cnn {

namespace {

constexpr int64_t kRows = 12, kCols = 32;

thread_local std::vector<bf16> packed_a, packed_b;

// The roundings below go through bf16.h's array functions (compiled for any x86-64 in
// core/bf16.cpp), never its inline ones: an inline function compiled here with AVX-512
// could be the copy the linker keeps for every other file.

// op(A) [m, k] -> out [m, k2] bf16, zero-padded to even k.
void pack_a(bool ta, int64_t m, int64_t k, int64_t k2, const float* a, int64_t lda, bf16* out) {
  thread_local std::vector<float> column;
  column.resize(k);
  for (int64_t i = 0; i < m; ++i) {
    bf16* row = out + i * k2;
    if (!ta) {
      float_to_bf16(a + i * lda, k, row);
    } else {
      for (int64_t q = 0; q < k; ++q) column[q] = a[q * lda + i];
      float_to_bf16(column.data(), k, row);
    }
    if (k2 > k) row[k] = 0;
  }
}

// Panel `panel` of op(B) [k, n]: [k2 / 2][32][2] bf16, zeros past k and past n.
void pack_b_panel(bool tb, int64_t k, int64_t n, int64_t k2, const float* b, int64_t ldb,
                  int64_t panel, bf16* out) {
  const int64_t j0 = panel * kCols, cols = std::min(kCols, n - j0);
  std::memset(out, 0, sizeof(bf16) * k2 * kCols);
  float values[kCols];
  bf16 rounded[kCols];
  for (int64_t q = 0; q < k; ++q) {
    for (int64_t j = 0; j < cols; ++j) values[j] = tb ? b[(j0 + j) * ldb + q] : b[q * ldb + j0 + j];
    float_to_bf16(values, cols, rounded);
    bf16* pair_row = out + (q / 2) * 2 * kCols + (q % 2);
    for (int64_t j = 0; j < cols; ++j) pair_row[2 * j] = rounded[j];
  }
}

inline __m512bh as_bh(__m512i v) { return (__m512bh)v; }

// C[i0 .. i0+rows) x [j0 .. j0+cols) = alpha * op(A) op(B) + beta * C for one 12 x 32 tile.
void tile(const bf16* a, int64_t m, int64_t k2, const bf16* panel, int64_t i0, int64_t j0,
          int64_t cols, float alpha, float beta, float* c, int64_t ldc) {
  const bf16* row[kRows];
  for (int64_t r = 0; r < kRows; ++r) row[r] = a + std::min(i0 + r, m - 1) * k2;
  __m512 acc[2 * kRows];
#pragma GCC unroll 24
  for (int r = 0; r < 2 * kRows; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k2 / 2; ++p) {
    const __m512i b0 = _mm512_loadu_si512(panel + p * 2 * kCols);
    const __m512i b1 = _mm512_loadu_si512(panel + p * 2 * kCols + kCols);
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      int32_t pair;
      std::memcpy(&pair, row[r] + 2 * p, sizeof pair);
      const __m512i av = _mm512_set1_epi32(pair);
      acc[2 * r] = _mm512_dpbf16_ps(acc[2 * r], as_bh(av), as_bh(b0));
      acc[2 * r + 1] = _mm512_dpbf16_ps(acc[2 * r + 1], as_bh(av), as_bh(b1));
    }
  }
  const __mmask16 m0 = static_cast<__mmask16>(cols >= 16 ? 0xffff : (1u << cols) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(cols >= 32   ? 0xffff
                                              : cols <= 16 ? 0
                                                           : (1u << (cols - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const int64_t rows = std::min(kRows, m - i0);
  for (int64_t r = 0; r < rows; ++r) {
    float* out = c + (i0 + r) * ldc + j0;
    __m512 y0 = _mm512_mul_ps(va, acc[2 * r]), y1 = _mm512_mul_ps(va, acc[2 * r + 1]);
    if (beta != 0.0f) {
      y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, out), y0);
      y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, out + 16), y1);
    }
    _mm512_mask_storeu_ps(out, m0, y0);
    _mm512_mask_storeu_ps(out + 16, m1, y1);
  }
}

}  // namespace

void packed_bf16_gemm_avx512(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                             const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                             float* c, int64_t ldc, int threads) {
  const int64_t k2 = (k + 1) / 2 * 2, panels = (n + kCols - 1) / kCols;
  const int64_t row_blocks = (m + kRows - 1) / kRows, panel_size = k2 * kCols;
  packed_a.resize(m * k2);
  packed_b.resize(panels * panel_size);
  bf16* pa = packed_a.data();
  bf16* pb = packed_b.data();
  pack_a(ta, m, k, k2, a, lda, pa);
  // Tiles in panel-major order (a panel's tiles share its B in cache), split among threads.
  const int64_t tiles = panels * row_blocks;
  const int count = static_cast<int>(std::min<int64_t>(std::max(threads, 1), panels));
#pragma omp parallel num_threads(count) if (count > 1)
  {
#pragma omp for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel)
      pack_b_panel(tb, k, n, k2, b, ldb, panel, pb + panel * panel_size);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t panel = t / row_blocks, block = t % row_blocks;
      tile(pa, m, k2, pb + panel * panel_size, block * kRows, panel * kCols,
           std::min(kCols, n - panel * kCols), alpha, beta, c, ldc);
    }
  }
}

}  // namespace cnn
