// Winograd F(4x4, 3x3): tiles, transforms and the 36 products; see winograd.h for the math.
//
// Work is cut by rows of tiles ("bands": the 4 output rows a row of tiles covers, from 6
// input rows). A band is first copied channel-last into a small staging buffer
// ([row][column][channel]), so that every transform is a loop over channels with unit
// stride that the compiler vectorizes, whatever the width of the map. A block of bands
// (sized so that V and M stay near the core's cache) shares one set of 36 products.
// Threads take whole images ("items"), so the overlapping input patches of backward are
// summed by one thread only; OpenBLAS runs single-threaded inside them.
#include "core/winograd.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/transpose.h"

namespace cnn {

namespace {

constexpr int64_t kPoints = 36;                      // transformed values per tile (6x6)
constexpr int64_t kBlockBudget = int64_t{1} << 17;  // floats of V and M per block: 512 KiB

// ---- 1-D transforms (applied along both axes of a tile) and their adjoints ----
//
// Each works on kLanes channels at once: a Lanes value is one entry of the tile for
// kLanes consecutive channels (a GCC/clang vector type: one AVX-512 register, or two or
// four narrower ones on other targets).
constexpr int64_t kLanes = 16;
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

// B^T z: input patch, 6 -> 6
inline void input_1d(const Lanes* z, int64_t zs, Lanes* o, int64_t os) {
  const Lanes z0 = z[0], z1 = z[zs], z2 = z[2 * zs], z3 = z[3 * zs], z4 = z[4 * zs],
              z5 = z[5 * zs];
  o[0] = 4.0f * z0 - 5.0f * z2 + z4;
  o[os] = -4.0f * (z1 + z2) + z3 + z4;
  o[2 * os] = 4.0f * (z1 - z2) - z3 + z4;
  o[3 * os] = 2.0f * (z3 - z1) - z2 + z4;
  o[4 * os] = 2.0f * (z1 - z3) - z2 + z4;
  o[5 * os] = 4.0f * z1 - 5.0f * z3 + z5;
}

// B v: adjoint of input_1d (gradient of the input patch), 6 -> 6
inline void input_adjoint_1d(const Lanes* v, int64_t vs, Lanes* o, int64_t os) {
  const Lanes v0 = v[0], v1 = v[vs], v2 = v[2 * vs], v3 = v[3 * vs], v4 = v[4 * vs],
              v5 = v[5 * vs];
  o[0] = 4.0f * v0;
  o[os] = 4.0f * (v2 - v1) + 2.0f * (v4 - v3) + 4.0f * v5;
  o[2 * os] = -5.0f * v0 - 4.0f * (v1 + v2) - v3 - v4;
  o[3 * os] = v1 - v2 + 2.0f * (v3 - v4) - 5.0f * v5;
  o[4 * os] = v0 + v1 + v2 + v3 + v4;
  o[5 * os] = v5;
}

// A^T m: output, 6 -> 4
inline void output_1d(const Lanes* m, int64_t ms, Lanes* o, int64_t os) {
  const Lanes m0 = m[0], m1 = m[ms], m2 = m[2 * ms], m3 = m[3 * ms], m4 = m[4 * ms],
              m5 = m[5 * ms];
  const Lanes sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4;
  o[0] = m0 + sum12 + sum34;
  o[os] = diff12 + 2.0f * diff34;
  o[2 * os] = sum12 + 4.0f * sum34;
  o[3 * os] = diff12 + 8.0f * diff34 + m5;
}

// A y: adjoint of output_1d (gradient of M from the output gradient), 4 -> 6
inline void output_adjoint_1d(const Lanes* y, int64_t ys, Lanes* o, int64_t os) {
  const Lanes y0 = y[0], y1 = y[ys], y2 = y[2 * ys], y3 = y[3 * ys];
  o[0] = y0;
  o[os] = y0 + y1 + y2 + y3;
  o[2 * os] = y0 - y1 + y2 - y3;
  o[3 * os] = y0 + 2.0f * y1 + 4.0f * y2 + 8.0f * y3;
  o[4 * os] = y0 - 2.0f * y1 + 4.0f * y2 - 8.0f * y3;
  o[5 * os] = y3;
}

// G g: kernel, 3 -> 6
inline void weight_1d(const Lanes* g, int64_t gs, Lanes* o, int64_t os) {
  constexpr float kSixth = 1.0f / 6.0f, kTwelfth = 1.0f / 12.0f, kTwentyFourth = 1.0f / 24.0f;
  const Lanes g0 = g[0], g1 = g[gs], g2 = g[2 * gs];
  o[0] = 0.25f * g0;
  o[os] = -(g0 + g1 + g2) * kSixth;
  o[2 * os] = -(g0 - g1 + g2) * kSixth;
  o[3 * os] = g0 * kTwentyFourth + g1 * kTwelfth + g2 * kSixth;
  o[4 * os] = g0 * kTwentyFourth - g1 * kTwelfth + g2 * kSixth;
  o[5 * os] = g2;
}

// The kernel-gradient transform runs once per backward, not per tile: in double (dU is
// summed in double, and its 36 points cancel in G^T dU G), 8 output channels per vector.
// G^T u: adjoint of weight_1d (gradient of the kernel), 6 -> 3
template <class T>  // double, or DoubleLanes: the same operations lane by lane
inline void weight_adjoint_1d(const T* u, int64_t us, T* o, int64_t os) {
  const T u0 = u[0], u1 = u[us], u2 = u[2 * us], u3 = u[3 * us], u4 = u[4 * us], u5 = u[5 * us];
  constexpr double kSixth = 1.0 / 6.0, kTwelfth = 1.0 / 12.0, kTwentyFourth = 1.0 / 24.0;
  o[0] = 0.25 * u0 - (u1 + u2) * kSixth + (u3 + u4) * kTwentyFourth;
  o[os] = (u2 - u1) * kSixth + (u3 - u4) * kTwelfth;
  o[2 * os] = (u3 + u4 - u1 - u2) * kSixth + u5;
}
constexpr int64_t kDoubleLanes = 8;
using DoubleLanes = double __attribute__((vector_size(kDoubleLanes * sizeof(double))));

// Moving kLanes channels (the last group of a call may hold fewer: `count`; the missing
// lanes read as 0 and are not written). memcpy of a whole vector is one unaligned move.
inline Lanes load_lanes(const float* src, int64_t count) {
  Lanes value = {};
  if (count == kLanes) {
    std::memcpy(&value, src, sizeof value);
  } else {
    std::memcpy(&value, src, count * sizeof(float));
  }
  return value;
}
inline void store_lanes(float* dst, const Lanes& value, int64_t count) {
  if (count == kLanes) {
    std::memcpy(dst, &value, sizeof value);
  } else {
    std::memcpy(dst, &value, count * sizeof(float));
  }
}
inline void add_lanes(float* dst, const Lanes& value, int64_t count) {
  store_lanes(dst, load_lanes(dst, count) + value, count);
}

// ---- the plan: tiles, bands, blocks and items of one call ----

struct Plan {
  int64_t N, C, H, W, O, pad_h, pad_w, OH, OW;
  int64_t tiles_h, tiles_w;    // tiles per map: ceil(OH/4) x ceil(OW/4)
  int64_t in_cols, out_cols;   // staged columns of a band: 4*tiles_w + 2 and 4*tiles_w
  int64_t bands_per_block;     // rows of tiles sharing one set of products
  int64_t block_tiles;         // bands_per_block * tiles_w: rows of each V[xi] and M[xi]
  int64_t v_point, m_point;    // floats from V[xi] to V[xi+1], M[xi] to M[xi+1]
  int64_t images_per_item;     // whole images per unit of thread work, at most
  int64_t items;

  Plan(const ConvGeometry& g, int64_t batch, int64_t out_channels)
      : N(batch), C(g.channels), H(g.height), W(g.width), O(out_channels), pad_h(g.pad_h),
        pad_w(g.pad_w), OH(g.out_h), OW(g.out_w) {
    tiles_h = (OH + 3) / 4;
    tiles_w = (OW + 3) / 4;
    in_cols = 4 * tiles_w + 2;
    out_cols = 4 * tiles_w;
    const int64_t target = std::clamp<int64_t>(kBlockBudget / (kPoints * (C + O)), 16, 1024);
    bands_per_block = std::max<int64_t>(1, target / tiles_w);
    if (bands_per_block >= tiles_h) {  // small maps: several whole images per block
      images_per_item = std::min(N, bands_per_block / tiles_h);
      bands_per_block = images_per_item * tiles_h;
    } else {  // large maps: an image in blocks of equal height (8 rows: 4 + 4, not 7 + 1)
      images_per_item = 1;
      const int64_t blocks = (tiles_h + bands_per_block - 1) / bands_per_block;
      bands_per_block = (tiles_h + blocks - 1) / blocks;
    }
    block_tiles = bands_per_block * tiles_w;
    // One cache line more than the matrix: with a power-of-two size (64 tiles x 16
    // channels = 4 KiB) the 36 stores of a tile would all hit the same cache set.
    v_point = block_tiles * C + 16;
    m_point = block_tiles * O + 16;
    items = (N + images_per_item - 1) / images_per_item;
    // Items in a multiple of the thread count, images spread evenly over them (sizes differ
    // by one at most): 128 images in items of 7 would give one thread 70 and the other 58.
    const int64_t threads = omp_get_max_threads();
    if (images_per_item > 1 && items > threads)
      items = std::min(N, (items + threads - 1) / threads * threads);
  }
  int64_t first_image(int64_t item) const { return item * N / items; }
};

// Buffers reused across calls (they only grow); one set per thread.
struct Scratch {
  std::vector<float> v, m, rows_in, rows_out;  // V/dV, M/dM, staged input and output rows
  std::vector<float> du;                       // dU's current block of tiles (backward)
  static float* sized(std::vector<float>& buffer, int64_t floats) {
    if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
    return buffer.data();
  }
};
thread_local Scratch scratch;

// ---- staging: rows of an image, channel-last (core/transpose.h) ----

// Input rows of tile rows [ty0, ty1) of image [C,H,W] -> rows [4*(ty1-ty0)+2][in_cols][C],
// zero where the padding is.
void stage_input_rows(const Plan& p, const float* image, int64_t ty0, int64_t ty1,
                      float* rows) {
  const int64_t col_begin = std::min(p.pad_w, p.in_cols);
  const int64_t col_end = std::clamp<int64_t>(p.W + p.pad_w, col_begin, p.in_cols);
  const int64_t row_floats = p.in_cols * p.C;
  for (int64_t i = 0; i < 4 * (ty1 - ty0) + 2; ++i) {
    const int64_t row = ty0 * 4 - p.pad_h + i;
    float* dst = rows + i * row_floats;
    if (row < 0 || row >= p.H) {
      std::fill_n(dst, row_floats, 0.0f);
      continue;
    }
    std::fill_n(dst, col_begin * p.C, 0.0f);
    std::fill(dst + col_end * p.C, dst + row_floats, 0.0f);
    // [C][columns inside the image] -> [columns][C]
    transpose(image + row * p.W + col_begin - p.pad_w, p.H * p.W, p.C, col_end - col_begin,
              dst + col_begin * p.C, p.C);
  }
}

// The adjoint: rows [4*(ty1-ty0)+2][in_cols][C] added into image [C,H,W] where inside it.
void add_input_rows(const Plan& p, const float* rows, int64_t ty0, int64_t ty1, float* image) {
  const int64_t col_begin = std::min(p.pad_w, p.in_cols);
  const int64_t col_end = std::clamp<int64_t>(p.W + p.pad_w, col_begin, p.in_cols);
  for (int64_t i = 0; i < 4 * (ty1 - ty0) + 2; ++i) {
    const int64_t row = ty0 * 4 - p.pad_h + i;
    if (row < 0 || row >= p.H) continue;
    transpose_add(rows + (i * p.in_cols + col_begin) * p.C, p.C, col_end - col_begin, p.C,
                  image + row * p.W + col_begin - p.pad_w, p.H * p.W);
  }
}

// rows [4*(ty1-ty0)][out_cols][O] -> output image [O,OH,OW], the part inside the map; with
// a residual image [O,OH,OW], then max(image + residual, 0) over those rows. (Adding inside
// the transpose is slower: its 8 output rows and 8 residual rows, a map apart, compete for
// one cache set; here each channel's rows are one contiguous run, still in cache.)
void store_output_rows(const Plan& p, const float* rows, int64_t ty0, int64_t ty1,
                       const float* residual, float* image) {
  const int64_t row_end = std::min(4 * ty1, p.OH);
  for (int64_t row = 4 * ty0; row < row_end; ++row)
    transpose(rows + (row - 4 * ty0) * p.out_cols * p.O, p.O, p.OW, p.O, image + row * p.OW,
              p.OH * p.OW);
  if (!residual) return;
  const int64_t first = 4 * ty0 * p.OW, count = (row_end - 4 * ty0) * p.OW;
  for (int64_t o = 0; o < p.O; ++o) {
    float* y = image + o * p.OH * p.OW + first;
    const float* r = residual + o * p.OH * p.OW + first;
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) {
      const float sum = y[i] + r[i];
      y[i] = sum > 0.0f ? sum : 0.0f;  // NaN -> 0, as core's add_relu
    }
  }
}

// Pooled: rows [2*(ty1-ty0)][out_cols/2][O] -> image [O,OH/2,OW/2]
void store_pooled_rows(const Plan& p, const float* rows, int64_t ty0, int64_t ty1,
                       float* image) {
  const int64_t PH = p.OH / 2, PW = p.OW / 2, row_floats = p.out_cols / 2 * p.O;
  for (int64_t row = 2 * ty0; row < std::min(2 * ty1, PH); ++row)
    transpose(rows + (row - 2 * ty0) * row_floats, p.O, PW, p.O, image + row * PW, PH * PW);
}

// The adjoint: output gradient image [O,OH,OW] -> rows [4*(ty1-ty0)][out_cols][O], zero
// outside the map
void stage_output_rows(const Plan& p, const float* image, int64_t ty0, int64_t ty1,
                       float* rows) {
  std::fill_n(rows, 4 * (ty1 - ty0) * p.out_cols * p.O, 0.0f);
  const int64_t row_end = std::min(4 * ty1, p.OH);
  for (int64_t row = 4 * ty0; row < row_end; ++row) {
    transpose(image + row * p.OW, p.OH * p.OW, p.O, p.OW,
              rows + (row - 4 * ty0) * p.out_cols * p.O, p.O);
  }
}

// ---- tile transforms of a band, kLanes channels at a time ----

// band [6][in_cols][C] -> V[xi][t0 + tx][c] for every tile of the band
void transform_input_band(const Plan& p, const float* band, float* v, int64_t t0) {
  const int64_t C = p.C, row = p.in_cols * C, point = p.v_point;
  for (int64_t tx = 0; tx < p.tiles_w; ++tx)
    for (int64_t c = 0; c < C; c += kLanes) {
      const int64_t count = std::min(kLanes, C - c);
      const float* patch = band + 4 * tx * C + c;
      float* out = v + (t0 + tx) * C + c;
      Lanes d[36], half[36], result[36];
      for (int64_t i = 0; i < 6; ++i)
        for (int64_t j = 0; j < 6; ++j) d[i * 6 + j] = load_lanes(patch + i * row + j * C, count);
      for (int64_t j = 0; j < 6; ++j) input_1d(d + j, 6, half + j, 6);               // columns
      for (int64_t i = 0; i < 6; ++i) input_1d(half + i * 6, 1, result + i * 6, 1);  // rows
      for (int64_t xi = 0; xi < kPoints; ++xi) store_lanes(out + xi * point, result[xi], count);
    }
}

// dV[xi][t0 + tx][c] -> band [6][in_cols][C] += B dV B^T (neighbouring patches overlap)
void transform_input_grad_band(const Plan& p, const float* dv, int64_t t0, float* band) {
  const int64_t C = p.C, row = p.in_cols * C, point = p.v_point;
  for (int64_t tx = 0; tx < p.tiles_w; ++tx)
    for (int64_t c = 0; c < C; c += kLanes) {
      const int64_t count = std::min(kLanes, C - c);
      float* patch = band + 4 * tx * C + c;
      const float* in = dv + (t0 + tx) * C + c;
      Lanes g[36], half[36], result[36];
      for (int64_t xi = 0; xi < kPoints; ++xi) g[xi] = load_lanes(in + xi * point, count);
      for (int64_t j = 0; j < 6; ++j) input_adjoint_1d(g + j, 6, half + j, 6);
      for (int64_t i = 0; i < 6; ++i) input_adjoint_1d(half + i * 6, 1, result + i * 6, 1);
      for (int64_t i = 0; i < 6; ++i)
        for (int64_t j = 0; j < 6; ++j) add_lanes(patch + i * row + j * C, result[i * 6 + j], count);
    }
}

// The larger of two candidates, the first one on a tie, NaN winning (as max-pool's loop).
inline Lanes pool_max(const Lanes& best, const Lanes& candidate) {
  return (candidate > best) | (candidate != candidate) ? candidate : best;
}

// M[xi][t0 + tx][o] -> band [4][out_cols][O] = A^T M A + bias, then the epilogue; pooled,
// band [2][out_cols/2][O] (a tile's 4x4 outputs are exactly four whole 2x2 windows).
void transform_output_band(const Plan& p, const float* m, int64_t t0, const float* bias,
                           WinogradEpilogue epilogue, float* band) {
  const int64_t O = p.O, point = p.m_point;
  const int64_t row = (epilogue.max_pool_2x2 ? p.out_cols / 2 : p.out_cols) * O;
  for (int64_t tx = 0; tx < p.tiles_w; ++tx)
    for (int64_t o = 0; o < O; o += kLanes) {
      const int64_t count = std::min(kLanes, O - o);
      const float* in = m + (t0 + tx) * O + o;
      Lanes v[36], half[24], result[16];
      for (int64_t xi = 0; xi < kPoints; ++xi) v[xi] = load_lanes(in + xi * point, count);
      for (int64_t j = 0; j < 6; ++j) output_1d(v + j, 6, half + j, 6);  // [4][6]
      for (int64_t r = 0; r < 4; ++r) output_1d(half + r * 6, 1, result + r * 4, 1);
      if (bias) {
        const Lanes shift = load_lanes(bias + o, count);
        for (auto& value : result) value += shift;
      }
      if (epilogue.relu) {
        const Lanes zero = {};
        for (auto& value : result) value = value > zero ? value : zero;
      }
      if (epilogue.max_pool_2x2) {
        float* out = band + 2 * tx * O + o;
        for (int64_t r = 0; r < 2; ++r)
          for (int64_t s = 0; s < 2; ++s) {
            const Lanes* top = result + 2 * r * 4 + 2 * s;  // the window's row-major order
            const Lanes best = pool_max(pool_max(pool_max(top[0], top[1]), top[4]), top[5]);
            store_lanes(out + r * row + s * O, best, count);
          }
        continue;
      }
      float* out = band + 4 * tx * O + o;
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t s = 0; s < 4; ++s) store_lanes(out + r * row + s * O, result[r * 4 + s], count);
    }
}

// band [4][out_cols][O] of output gradients -> dM[xi][t0 + tx][o] = A dY A^T
void transform_output_grad_band(const Plan& p, const float* band, float* dm, int64_t t0) {
  const int64_t O = p.O, row = p.out_cols * O, point = p.m_point;
  for (int64_t tx = 0; tx < p.tiles_w; ++tx)
    for (int64_t o = 0; o < O; o += kLanes) {
      const int64_t count = std::min(kLanes, O - o);
      const float* in = band + 4 * tx * O + o;
      float* out = dm + (t0 + tx) * O + o;
      Lanes y[16], half[24], result[36];
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t s = 0; s < 4; ++s) y[r * 4 + s] = load_lanes(in + r * row + s * O, count);
      for (int64_t s = 0; s < 4; ++s) output_adjoint_1d(y + s, 4, half + s, 4);  // [6][4]
      for (int64_t k = 0; k < 6; ++k) output_adjoint_1d(half + k * 4, 1, result + k * 6, 1);
      for (int64_t xi = 0; xi < kPoints; ++xi) store_lanes(out + xi * point, result[xi], count);
    }
}

// w [O,C,3,3] -> U[xi][c][o] = G g G^T, kLanes output channels at a time: each of the 36
// results is one whole vector store (scalar stores into 36 streams 4 KiB-multiples apart
// thrash the cache).
void transform_weights(int64_t C, int64_t O, const float* w, float* u) {
  const int64_t point = C * O;
#pragma omp parallel for schedule(static) if (C * O >= kParallelMinWinogradFilters)
  for (int64_t c = 0; c < C; ++c)
    for (int64_t o = 0; o < O; o += kLanes) {
      const int64_t count = std::min(kLanes, O - o);
      Lanes g[9] = {}, half[18], result[36];
      for (int64_t l = 0; l < count; ++l)
        for (int64_t k = 0; k < 9; ++k) g[k][l] = w[((o + l) * C + c) * 9 + k];
      for (int64_t b = 0; b < 3; ++b) weight_1d(g + b, 3, half + b, 3);  // [6][3]
      for (int64_t k = 0; k < 6; ++k) weight_1d(half + k * 3, 1, result + k * 6, 1);
      for (int64_t xi = 0; xi < kPoints; ++xi)
        store_lanes(u + xi * point + c * O + o, result[xi], count);
    }
}

// One thread slot's dU: the finished blocks' sum in double, the current block in float;
// either may be missing (null).
struct SlotSum {
  const double* total;
  const float* block;
  double at(int64_t i) const {
    if (!total) return block[i];
    return block ? total[i] + block[i] : total[i];
  }
};

// dU[xi][c][o], the sum of the slots (in slot order) -> dw [O,C,3,3] = G^T dU G.
// kDoubleLanes output channels at a time: their dU values are consecutive.
void weight_grad_from(const Plan& p, const std::vector<SlotSum>& slots, float* dw) {
  const int64_t point = p.C * p.O;
#pragma omp parallel for schedule(static) if (p.C * p.O >= kParallelMinWinogradFilters)
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t o = 0; o < p.O; o += kDoubleLanes) {
      const int64_t count = std::min(kDoubleLanes, p.O - o);
      DoubleLanes u[36] = {}, half[18], kernel[9];
      for (int64_t xi = 0; xi < kPoints; ++xi) {
        const int64_t first = xi * point + c * p.O + o;
        for (size_t s = 0; s < slots.size(); ++s)
          for (int64_t l = 0; l < count; ++l) {
            const double value = slots[s].at(first + l);
            u[xi][l] = s == 0 ? value : u[xi][l] + value;
          }
      }
      for (int64_t l = 0; l < 6; ++l) weight_adjoint_1d(u + l, 6, half + l, 6);  // [3][6]
      for (int64_t a = 0; a < 3; ++a) weight_adjoint_1d(half + a * 6, 1, kernel + a * 3, 1);
      for (int64_t l = 0; l < count; ++l)
        for (int64_t k = 0; k < 9; ++k)
          dw[((o + l) * p.C + c) * 9 + k] = static_cast<float>(kernel[k][l]);
    }
}

// dU's sum over the batch's tiles (docs/numerics.md), blocked: the blocks' products
// accumulate in float over at least kSumBlockTiles tiles (4096 output positions), then
// that partial sum is added into a double one. (Adding every block in double made the
// backward 1.3-1.6x slower on 64-128 channels, whose blocks are one image of 16 tiles.)
constexpr int64_t kSumBlockTiles = 256;

void add_in_double(const float* product, int64_t n, double* sum) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) sum[i] += product[i];
}

// ---- items, blocks and segments ----

// Calls block(first_band, end_band) for the blocks of one item, in order. Band b is tile
// row b % tiles_h of image b / tiles_h.
template <class Block>
void for_each_block(const Plan& p, int64_t item, Block&& block) {
  const int64_t n0 = p.first_image(item), n1 = p.first_image(item + 1);
  for (int64_t b0 = n0 * p.tiles_h; b0 < n1 * p.tiles_h; b0 += p.bands_per_block)
    block(b0, std::min(b0 + p.bands_per_block, n1 * p.tiles_h));
}

// Calls segment(n, ty0, ty1, t0) for each image's part of the block [b0, b1): tile rows
// [ty0, ty1) of image n, whose first tile is row t0 of V and M.
template <class Segment>
void for_each_segment(const Plan& p, int64_t b0, int64_t b1, Segment&& segment) {
  for (int64_t b = b0; b < b1;) {
    const int64_t n = b / p.tiles_h, ty0 = b % p.tiles_h;
    const int64_t ty1 = std::min(p.tiles_h, ty0 + (b1 - b));
    segment(n, ty0, ty1, (b - b0) * p.tiles_w);
    b += ty1 - ty0;
  }
}

// Runs work(item, thread) for every item: in parallel, one item per thread at a time with
// OpenBLAS single-threaded, when there are enough items; otherwise in order with
// OpenBLAS's own threads. Returns the number of thread slots used.
template <class Work>
int for_each_item(const Plan& p, Work&& work) {
  const int threads = omp_get_max_threads();
  if (threads > 1 && p.items >= threads && !omp_in_parallel()) {
    SingleThreadedBlas single;
#pragma omp parallel num_threads(threads)
    {
      const int thread = omp_get_thread_num();
#pragma omp for schedule(static)
      for (int64_t item = 0; item < p.items; ++item) work(item, thread);
    }
    return threads;
  }
  for (int64_t item = 0; item < p.items; ++item) work(item, 0);
  return 1;
}

// This thread's buffers, sized for the plan.
struct Buffers {
  float *v, *m, *rows_in, *rows_out;
  explicit Buffers(const Plan& p) {
    const int64_t bands = std::min(p.bands_per_block, p.tiles_h);  // per segment
    v = Scratch::sized(scratch.v, kPoints * p.v_point);
    m = Scratch::sized(scratch.m, kPoints * p.m_point);
    rows_in = Scratch::sized(scratch.rows_in, (4 * bands + 2) * p.in_cols * p.C);
    rows_out = Scratch::sized(scratch.rows_out, 4 * bands * p.out_cols * p.O);
  }
};

}  // namespace

bool winograd_supports(const ConvGeometry& g, int64_t groups) {
  return groups == 1 && g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 &&
         g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1 && g.out_h > 0 && g.out_w > 0;
}

bool winograd_applies(const ConvGeometry& g, int64_t groups) {
  return winograd_supports(g, groups) && g.channels >= 8;
}

int64_t winograd_weights_size(int64_t in_channels, int64_t out_channels) {
  return kPoints * in_channels * out_channels;
}

void winograd_transform_weights(int64_t in_channels, int64_t out_channels, const float* w,
                                float* u) {
  transform_weights(in_channels, out_channels, w, u);
}

void winograd_conv3x3_forward(const ConvGeometry& g, int64_t batch, int64_t out_channels,
                              const float* x, const float* u, const float* b,
                              WinogradEpilogue epilogue, float* y) {
  const Plan p(g, batch, out_channels);
  const bool pooled = epilogue.max_pool_2x2;
  CNN_CHECK(!pooled || (p.OH % 2 == 0 && p.OW % 2 == 0),
            "winograd conv: the fused 2x2 max-pool needs an even output size, got ", p.OH,
            "x", p.OW);
  const float* residual = epilogue.residual_then_relu;
  CNN_CHECK(!residual || (!pooled && !epilogue.relu),
            "winograd conv: a residual sum has its own ReLU and no max-pool");
  const int64_t image = p.C * p.H * p.W;
  const int64_t out_image = pooled ? p.O * (p.OH / 2) * (p.OW / 2) : p.O * p.OH * p.OW;
  const int64_t in_band = 4 * p.in_cols * p.C, out_band = 4 * p.out_cols * p.O / (pooled ? 4 : 1);
  for_each_item(p, [&](int64_t item, int) {
    const Buffers buffers(p);
    for_each_block(p, item, [&](int64_t b0, int64_t b1) {
      for_each_segment(p, b0, b1, [&](int64_t n, int64_t ty0, int64_t ty1, int64_t t0) {
        stage_input_rows(p, x + n * image, ty0, ty1, buffers.rows_in);
        for (int64_t ty = ty0; ty < ty1; ++ty)
          transform_input_band(p, buffers.rows_in + (ty - ty0) * in_band, buffers.v,
                               t0 + (ty - ty0) * p.tiles_w);
      });
      const int64_t tiles = (b1 - b0) * p.tiles_w;
      for (int64_t xi = 0; xi < kPoints; ++xi)  // M[xi] = V[xi] U[xi]
        sgemm(false, false, tiles, p.O, p.C, 1.0f, buffers.v + xi * p.v_point, p.C,
              u + xi * p.C * p.O, p.O, 0.0f, buffers.m + xi * p.m_point, p.O);
      for_each_segment(p, b0, b1, [&](int64_t n, int64_t ty0, int64_t ty1, int64_t t0) {
        for (int64_t ty = ty0; ty < ty1; ++ty)
          transform_output_band(p, buffers.m, t0 + (ty - ty0) * p.tiles_w, b, epilogue,
                                buffers.rows_out + (ty - ty0) * out_band);
        if (pooled) {
          store_pooled_rows(p, buffers.rows_out, ty0, ty1, y + n * out_image);
        } else {
          store_output_rows(p, buffers.rows_out, ty0, ty1,
                            residual ? residual + n * out_image : nullptr, y + n * out_image);
        }
      });
    });
  });
}

void winograd_conv3x3_backward(const ConvGeometry& g, int64_t batch, int64_t out_channels,
                               const float* x, const float* u, const float* gy, float* dx,
                               float* dw) {
  if (!dx && !dw) return;
  const Plan p(g, batch, out_channels);
  const int64_t image = p.C * p.H * p.W, out_image = p.O * p.OH * p.OW;
  const int64_t in_band = 4 * p.in_cols * p.C, out_band = 4 * p.out_cols * p.O;
  const int64_t weight_points = kPoints * p.C * p.O;
  // dU per thread slot: the current block of tiles in float, the finished blocks in double;
  // the slots are summed in slot order afterwards (independent of thread timing).
  const int slots = omp_get_max_threads();
  // Neither is zero-filled (36*C*O values each, megabytes on 128 channels): a block starts
  // with beta = 0, and a slot's first finished block is copied, not added.
  std::unique_ptr<double[]> du(dw ? new double[slots * weight_points] : nullptr);
  std::vector<float*> du_blocks(slots, nullptr);  // this thread's Scratch::du
  std::vector<int64_t> block_tiles(slots, 0);
  std::vector<char> slot_started(slots, 0);
  auto flush = [&](int slot) {
    if (block_tiles[slot] == 0) return;
    const float* block = du_blocks[slot];
    double* total = du.get() + slot * weight_points;
    if (slot_started[slot]) {
      add_in_double(block, weight_points, total);
    } else {
      std::copy_n(block, weight_points, total);
      slot_started[slot] = 1;
    }
    block_tiles[slot] = 0;
  };
  const int used = for_each_item(p, [&](int64_t item, int thread) {
    const Buffers buffers(p);
    float* du_block = dw ? Scratch::sized(scratch.du, weight_points) : nullptr;
    du_blocks[thread] = du_block;
    const int64_t n0 = p.first_image(item), n1 = p.first_image(item + 1);
    if (dx) std::fill(dx + n0 * image, dx + n1 * image, 0.0f);  // patches add into it
    for_each_block(p, item, [&](int64_t b0, int64_t b1) {
      const int64_t tiles = (b1 - b0) * p.tiles_w;
      for_each_segment(p, b0, b1, [&](int64_t n, int64_t ty0, int64_t ty1, int64_t t0) {
        stage_output_rows(p, gy + n * out_image, ty0, ty1, buffers.rows_out);
        for (int64_t ty = ty0; ty < ty1; ++ty)
          transform_output_grad_band(p, buffers.rows_out + (ty - ty0) * out_band, buffers.m,
                                     t0 + (ty - ty0) * p.tiles_w);
      });
      if (dw) {
        for_each_segment(p, b0, b1, [&](int64_t n, int64_t ty0, int64_t ty1, int64_t t0) {
          stage_input_rows(p, x + n * image, ty0, ty1, buffers.rows_in);
          for (int64_t ty = ty0; ty < ty1; ++ty)
            transform_input_band(p, buffers.rows_in + (ty - ty0) * in_band, buffers.v,
                                 t0 + (ty - ty0) * p.tiles_w);
        });
        const float beta = block_tiles[thread] == 0 ? 0.0f : 1.0f;
        for (int64_t xi = 0; xi < kPoints; ++xi)  // dU[xi] += V[xi]^T dM[xi]
          sgemm(true, false, p.C, p.O, tiles, 1.0f, buffers.v + xi * p.v_point, p.C,
                buffers.m + xi * p.m_point, p.O, beta, du_block + xi * p.C * p.O, p.O);
        block_tiles[thread] += tiles;
        if (block_tiles[thread] >= kSumBlockTiles) flush(thread);
      }
      if (dx) {
        for (int64_t xi = 0; xi < kPoints; ++xi)  // dV[xi] = dM[xi] U[xi]^T, into v
          sgemm(false, true, tiles, p.C, p.O, 1.0f, buffers.m + xi * p.m_point, p.O,
                u + xi * p.C * p.O, p.O, 0.0f, buffers.v + xi * p.v_point, p.C);
        for_each_segment(p, b0, b1, [&](int64_t n, int64_t ty0, int64_t ty1, int64_t t0) {
          std::fill_n(buffers.rows_in, (4 * (ty1 - ty0) + 2) * p.in_cols * p.C, 0.0f);
          for (int64_t ty = ty0; ty < ty1; ++ty)
            transform_input_grad_band(p, buffers.v, t0 + (ty - ty0) * p.tiles_w,
                                      buffers.rows_in + (ty - ty0) * in_band);
          add_input_rows(p, buffers.rows_in, ty0, ty1, dx + n * image);
        });
      }
    });
  });
  if (dw) {
    // The slots' last blocks are added while dw is computed, not flushed (a 128-channel
    // layer's dU is 36*128*128 values; at batch 32 a slot has only that one block).
    std::vector<SlotSum> sums;  // none for an empty batch: dw = 0
    for (int slot = 0; slot < used; ++slot) {
      const double* total = slot_started[slot] ? du.get() + slot * weight_points : nullptr;
      const float* block = block_tiles[slot] > 0 ? du_blocks[slot] : nullptr;
      if (total || block) sums.push_back({total, block});
    }
    weight_grad_from(p, sums, dw);
  }
}

}  // namespace cnn
