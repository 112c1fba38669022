// The packed GEMM (GotoBLAS/BLIS order), written once for every ISA: included only by
// core/gemm_packed_avx512.cpp and core/gemm_packed_avx2.cpp, each compiled with its own
// flags, after defining in an anonymous namespace
//   struct V { using T; W; zero, set1, load, store, fma, mul }  (one vector register)
//   constexpr PackedBlocking kBlock                              (MR = rows, NR = 2 * W)
//   constexpr int kDirectRows2, kDirectRows1    (the direct path's rows for 2 and 1 vectors)
//   constexpr int kDotRows, kDotCols            (the dot path's tile of C)
// and V::load_first(p, count) (the first count < W lanes, the rest 0), V::sum (the lanes'
// sum, as a tree).
// Everything here is in that TU's anonymous namespace and calls nothing from the standard
// library, so no inline function compiled for one ISA can be picked by the linker for
// another TU (an AVX-512 copy of std::min run on an AVX2 CPU).
//
// Loops: for each NC columns of C, for each KC slice of K: B's slice packed into NR-wide
// panels (kc x NR, row by row); for each MC rows: A's block packed into MR-high panels
// (kc x MR, column by column); then the micro-kernel, MR x NR of C kept in registers over
// the kc products. Zero padding at the edges. Each element of C is summed in the same order
// (the KC slices in turn, each slice's products in turn) whatever the thread split, so the
// result does not depend on the thread count.
#pragma once

namespace {

constexpr int64_t kMR = kBlock.mr, kNR = kBlock.nr;
static_assert(kNR == 2 * V::W, "the micro-kernel holds two vectors per row");

inline int64_t smaller(int64_t a, int64_t b) { return a < b ? a : b; }

// op(A) rows [i0, i0 + mc) x columns [p0, p0 + kc) -> MR-high panels.
void pack_a(const cnn::GemmArgs& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMR, dst += kMR * kc) {
    const int64_t rows = smaller(kMR, mc - ir);
    if (g.ta) {  // op(A)(i, p) = a[p * lda + i]: rows contiguous
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = g.a + (p0 + p) * g.lda + i0 + ir;
        for (int64_t i = 0; i < rows; ++i) dst[p * kMR + i] = src[i];
        for (int64_t i = rows; i < kMR; ++i) dst[p * kMR + i] = 0.0f;
      }
    } else {
      for (int64_t i = 0; i < rows; ++i) {
        const float* src = g.a + (i0 + ir + i) * g.lda + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * kMR + i] = src[p];
      }
      for (int64_t i = rows; i < kMR; ++i)
        for (int64_t p = 0; p < kc; ++p) dst[p * kMR + i] = 0.0f;
    }
  }
}

// op(B) rows [p0, p0 + kc) x columns [j0, j0 + nc) -> NR-wide panels.
void pack_b(const cnn::GemmArgs& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  for (int64_t jr = 0; jr < nc; jr += kNR, dst += kNR * kc) {
    const int64_t cols = smaller(kNR, nc - jr);
    if (g.tb) {  // op(B)(p, j) = b[j * ldb + p]
      for (int64_t j = 0; j < cols; ++j) {
        const float* src = g.b + (j0 + jr + j) * g.ldb + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = src[p];
      }
      for (int64_t j = cols; j < kNR; ++j)
        for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = 0.0f;
    } else if (cols == kNR) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = g.b + (p0 + p) * g.ldb + j0 + jr;
        V::store(dst + p * kNR, V::load(src));
        V::store(dst + p * kNR + V::W, V::load(src + V::W));
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = g.b + (p0 + p) * g.ldb + j0 + jr;
        for (int64_t j = 0; j < cols; ++j) dst[p * kNR + j] = src[j];
        for (int64_t j = cols; j < kNR; ++j) dst[p * kNR + j] = 0.0f;
      }
    }
  }
}

// C[rows x cols] (at most MR x NR) = alpha * Ap * Bp + beta * C; beta == 0 never reads C.
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float alpha,
                  float beta, float* __restrict c, int64_t ldc, int64_t rows, int64_t cols) {
  typename V::T acc0[kMR], acc1[kMR];
#pragma GCC unroll 16
  for (int64_t i = 0; i < kMR; ++i) acc0[i] = acc1[i] = V::zero();
  for (int64_t p = 0; p < kc; ++p, ap += kMR, bp += kNR) {
    const typename V::T b0 = V::load(bp), b1 = V::load(bp + V::W);
#pragma GCC unroll 16
    for (int64_t i = 0; i < kMR; ++i) {
      const typename V::T a = V::set1(ap[i]);
      acc0[i] = V::fma(a, b0, acc0[i]);
      acc1[i] = V::fma(a, b1, acc1[i]);
    }
  }
  const typename V::T va = V::set1(alpha), vb = V::set1(beta);
  if (rows == kMR && cols == kNR) {
#pragma GCC unroll 16
    for (int64_t i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      typename V::T r0 = V::mul(va, acc0[i]), r1 = V::mul(va, acc1[i]);
      if (beta != 0.0f) {
        r0 = V::fma(vb, V::load(ci), r0);
        r1 = V::fma(vb, V::load(ci + V::W), r1);
      }
      V::store(ci, r0);
      V::store(ci + V::W, r1);
    }
    return;
  }
  alignas(64) float tile[kMR * kNR];
  for (int64_t i = 0; i < kMR; ++i) {
    V::store(tile + i * kNR, V::mul(va, acc0[i]));
    V::store(tile + i * kNR + V::W, V::mul(va, acc1[i]));
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float& out = c[i * ldc + j];
      out = beta != 0.0f ? __builtin_fmaf(beta, out, tile[i * kNR + j]) : tile[i * kNR + j];
    }
}

// Rows [r0, r1) x columns [c0, c1) of C.
void packed_block(const cnn::GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                  float* pack_a_buffer, float* pack_b_buffer) {
  for (int64_t jc = c0; jc < c1; jc += kBlock.nc) {
    const int64_t nc = smaller(kBlock.nc, c1 - jc);
    for (int64_t pc = 0; pc < g.k; pc += kBlock.kc) {
      const int64_t kc = smaller(kBlock.kc, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later slices add to the first
      pack_b(g, pc, kc, jc, nc, pack_b_buffer);
      for (int64_t ic = r0; ic < r1; ic += kBlock.mc) {
        const int64_t mc = smaller(kBlock.mc, r1 - ic);
        pack_a(g, ic, mc, pc, kc, pack_a_buffer);
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += kMR)
            micro_kernel(kc, pack_a_buffer + ir * kc, pack_b_buffer + jr * kc, g.alpha, beta,
                         g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, smaller(kMR, mc - ir),
                         smaller(kNR, nc - jr));
      }
    }
  }
}

// ---- the direct path: small B (k x n fits in L2), A read in place ----
// Winograd's point products and the classifier's are a few thousand multiply-adds each:
// packing A would cost as much as the product. B is used in place when it is not
// transposed and its rows are whole vectors, else copied once to k rows of npad floats.

inline int64_t direct_width(int64_t n) { return (n + V::W - 1) / V::W * V::W; }

bool direct_b_in_place(const cnn::GemmArgs& g) { return !g.tb && g.n % V::W == 0; }

void pack_b_direct(const cnn::GemmArgs& g, float* dst) {
  const int64_t npad = direct_width(g.n);
  for (int64_t p = 0; p < g.k; ++p) {
    float* row = dst + p * npad;
    for (int64_t j = 0; j < g.n; ++j) row[j] = g.tb ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
    for (int64_t j = g.n; j < npad; ++j) row[j] = 0.0f;
  }
}

// C rows [i0, i0 + rows) (rows <= MR) x columns [j0, j0 + cols) (cols <= NV * W) from A in
// place and B rows of ldb floats, over K's slice [p0, p0 + kc), with `beta` for C (1 after
// the first slice). Rows past `rows` repeat the last row (never stored).
template <int MR, int NV, bool TA>
void direct_tile(const cnn::GemmArgs& g, int64_t i0, int64_t rows, const float* b, int64_t ldb,
                 int64_t j0, int64_t cols, int64_t p0, int64_t kc, float beta) {
  typename V::T acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  const float* a_row[MR];
  for (int i = 0; i < MR; ++i) {
    const int64_t r = i0 + (i < rows ? i : rows - 1);
    a_row[i] = TA ? g.a + p0 * g.lda + r : g.a + r * g.lda + p0;
  }
  const float* bp = b + p0 * ldb + j0;
  for (int64_t p = 0; p < kc; ++p, bp += ldb) {
    typename V::T bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = V::load(bp + v * V::W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::T a = V::set1(TA ? a_row[i][p * g.lda] : a_row[i][p]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(a, bv[v], acc[i][v]);
    }
  }
  const typename V::T va = V::set1(g.alpha), vb = V::set1(beta);
  float* c = g.c + i0 * g.ldc + j0;
  if (cols == NV * V::W) {
    for (int i = 0; i < rows; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        float* ci = c + i * g.ldc + v * V::W;
        typename V::T r = V::mul(va, acc[i][v]);
        if (beta != 0.0f) r = V::fma(vb, V::load(ci), r);
        V::store(ci, r);
      }
    return;
  }
  alignas(64) float tile[NV * V::W];
  for (int i = 0; i < rows; ++i) {
    for (int v = 0; v < NV; ++v) V::store(tile + v * V::W, V::mul(va, acc[i][v]));
    float* ci = c + i * g.ldc;
    for (int64_t j = 0; j < cols; ++j)
      ci[j] = beta != 0.0f ? __builtin_fmaf(beta, ci[j], tile[j]) : tile[j];
  }
}

// Rows [r0, r1) of C, all columns, B as direct_b_in_place says or packed (pack_b_direct).
// K in slices of KC, as the packed path: each slice's sum is added to C, so that a long K
// (a weight gradient over many pixels) is not one chain of k roundings.
template <bool TA>
void direct_rows(const cnn::GemmArgs& g, int64_t r0, int64_t r1, const float* b, int64_t ldb) {
  constexpr int kWideRows = kDirectRows2, kNarrowRows = kDirectRows1;
  for (int64_t p0 = 0; p0 < g.k; p0 += kBlock.kc) {
    const int64_t kc = smaller(kBlock.kc, g.k - p0);
    const float beta = p0 == 0 ? g.beta : 1.0f;
    int64_t j0 = 0;
    for (; j0 + V::W < g.n; j0 += 2 * V::W) {  // two vectors while more than one is left
      const int64_t cols = smaller(2 * V::W, g.n - j0);
      for (int64_t i0 = r0; i0 < r1; i0 += kWideRows)
        direct_tile<kWideRows, 2, TA>(g, i0, smaller(kWideRows, r1 - i0), b, ldb, j0, cols, p0, kc,
                                      beta);
    }
    if (j0 < g.n)
      for (int64_t i0 = r0; i0 < r1; i0 += kNarrowRows)
        direct_tile<kNarrowRows, 1, TA>(g, i0, smaller(kNarrowRows, r1 - i0), b, ldb, j0, g.n - j0,
                                        p0, kc, beta);
  }
}

void direct_block(const cnn::GemmArgs& g, int64_t r0, int64_t r1, const float* b, int64_t ldb) {
  if (g.ta) {
    direct_rows<true>(g, r0, r1, b, ldb);
  } else {
    direct_rows<false>(g, r0, r1, b, ldb);
  }
}

// ---- the dot path: A not transposed, B transposed (both rows contiguous along K) ----
// C[i, j] = alpha * dot(A row i, B row j) + beta * C[i, j], the K products of one element
// spread over the vector's lanes (k / W terms each, then a tree over the lanes): the
// weight gradients' long sums over pixels, computed without a transposing copy of B and
// with W partial sums instead of one chain.
template <int RI, int RJ>
void dot_tile(const cnn::GemmArgs& g, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
  typename V::T acc[RI][RJ];
#pragma GCC unroll 8
  for (int i = 0; i < RI; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RJ; ++j) acc[i][j] = V::zero();
  const float* a_row[RI];
  const float* b_row[RJ];
  for (int i = 0; i < RI; ++i) a_row[i] = g.a + (i0 + (i < rows ? i : rows - 1)) * g.lda;
  for (int j = 0; j < RJ; ++j) b_row[j] = g.b + (j0 + (j < cols ? j : cols - 1)) * g.ldb;
  int64_t p = 0;
  for (; p + V::W <= g.k; p += V::W) {
    typename V::T bv[RJ];
#pragma GCC unroll 8
    for (int j = 0; j < RJ; ++j) bv[j] = V::load(b_row[j] + p);
#pragma GCC unroll 8
    for (int i = 0; i < RI; ++i) {
      const typename V::T a = V::load(a_row[i] + p);
#pragma GCC unroll 8
      for (int j = 0; j < RJ; ++j) acc[i][j] = V::fma(a, bv[j], acc[i][j]);
    }
  }
  if (p < g.k) {  // the last k % W products, in the first lanes
    const int64_t left = g.k - p;
    typename V::T bv[RJ];
    for (int j = 0; j < RJ; ++j) bv[j] = V::load_first(b_row[j] + p, left);
    for (int i = 0; i < RI; ++i) {
      const typename V::T a = V::load_first(a_row[i] + p, left);
      for (int j = 0; j < RJ; ++j) acc[i][j] = V::fma(a, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      float& out = g.c[(i0 + i) * g.ldc + j0 + j];
      const float sum = g.alpha * V::sum(acc[i][j]);
      out = g.beta != 0.0f ? __builtin_fmaf(g.beta, out, sum) : sum;
    }
}

void dot_block(const cnn::GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  for (int64_t i0 = r0; i0 < r1; i0 += kDotRows)
    for (int64_t j0 = c0; j0 < c1; j0 += kDotCols)
      dot_tile<kDotRows, kDotCols>(g, i0, smaller(kDotRows, r1 - i0), j0,
                                   smaller(kDotCols, c1 - j0));
}

}  // namespace
