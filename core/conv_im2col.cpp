// Convolution as im2col + sgemm (see conv_im2col.h); every product goes through
// compute_gemm (core/precision.h): sgemm in fp32, the bf16 door in bf16.
// The batch is processed in chunks of `count` samples: im2col unfolds the chunk into
// columns [C*kh*kw, count*OH*OW], then one sgemm per group
//   Y_g[O/g, count*OH*OW] = W_g[O/g, C/g*kh*kw] * columns_g
// and a copy to [count, O, OH, OW] with the bias added (with count == 1 the product is
// written straight into the output). Chunks keep every sgemm wide enough on small feature
// maps while the column buffer stays small enough for the cache.
//
// Threads: with at least one chunk per OpenMP thread, the threads take whole chunks and
// OpenBLAS runs single-threaded inside them (see batch_parallel); a small batch instead
// runs its chunks in order with OpenBLAS's threads and a parallel im2col. The two thread
// pools never run at once.
//
// Backward, per chunk, with gy the output gradient gathered to [O, count*OH*OW]:
//   dW_g^T += columns_g * gy_g^T        (columns recomputed: caching them would cost C*kh*kw
//                                        floats per output pixel for every layer; each band's
//                                        product in float, the sum over bands and chunks in
//                                        double: see docs/numerics.md)
//   dcolumns_g = W_g^T * gy_g, then col2im -> dX
#include "core/conv_im2col.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/gemm.h"
#include "core/im2col.h"
#include "core/precision.h"

namespace cnn {

namespace {

// Scratch memory reused across calls (it only grows), so a training step does not map and
// fault in fresh pages for every convolution. One per thread (OpenMP's threads persist).
float* scratch(std::vector<float>& buffer, int64_t floats) {
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}
thread_local std::vector<float> columns_scratch, product_scratch, weight_scratch;

// How the batch is cut into tiles. A large map is unfolded one band of output rows at a
// time, so that the band's columns fit in the core's L2 cache (written by im2col, read at
// once by sgemm). Small maps take several samples per chunk, up to kWideColumns output
// pixels: with one sample per product, each sample repacks the whole weight matrix and
// an 8x8 map gives sgemm only 64 columns (measured, 2 threads: the 8x8 layers of vgg6 run
// 15% faster in chunks of 4 samples; one thread: 512->512 channels at 2x2 runs 1.7x faster
// in chunks of 7).
constexpr int64_t kBandBudget = int64_t{1} << 17;   // floats: 512 KiB, half of a 1 MiB L2
constexpr int64_t kChunkBudget = int64_t{1} << 19;  // floats: 2 MiB for a chunk of samples
constexpr int64_t kWideColumns = 256;

struct Tiling {
  int64_t samples;    // per chunk
  int64_t band_rows;  // output rows per band (out_h unless samples == 1)
};

// One convolution call: the sizes every tile needs.
struct ConvProblem {
  ConvGeometry g;
  int64_t N, O, groups;
  int64_t P, rows_g, O_g, image;  // pixels per map, column rows and outputs per group, C*H*W
  Tiling tiles;
  ConvProblem(const ConvGeometry& geometry, int64_t batch, int64_t out, int64_t group_count)
      : g(geometry), N(batch), O(out), groups(group_count), P(geometry.out_pixels()),
        rows_g(geometry.column_rows() / group_count), O_g(out / group_count),
        image(geometry.channels * geometry.height * geometry.width) {
    const int64_t per_row = std::max<int64_t>(g.column_rows() * g.out_w, 1);
    const int64_t per_sample = per_row * g.out_h;
    if (per_sample <= kBandBudget) {
      const int64_t wide = (kWideColumns + P - 1) / std::max<int64_t>(P, 1);
      tiles.samples = std::clamp<int64_t>(std::min(kChunkBudget / per_sample, wide), 1,
                                          std::max<int64_t>(N, 1));
      tiles.band_rows = g.out_h;
    } else {
      const int64_t bands = (per_sample + kBandBudget - 1) / kBandBudget;
      tiles.samples = 1;
      tiles.band_rows = (g.out_h + bands - 1) / bands;  // even bands
    }
  }
  int64_t chunks() const { return (N + tiles.samples - 1) / tiles.samples; }
};

// Whether to run the batch's chunks in parallel, one chunk per OpenMP thread at a time,
// with OpenBLAS single-threaded inside: no handing work between two thread pools for every
// small product, and each thread's columns stay in its own cache. With fewer chunks than
// threads (small batches) the chunks run in order and the parallelism is inside them:
// im2col's OpenMP loop and OpenBLAS's own threads.
bool batch_parallel(int64_t chunks) {
  const int threads = omp_get_max_threads();
  return threads > 1 && chunks >= threads && !omp_in_parallel();
}

// Forward of samples [n0, n0 + count): x [N,C,H,W], w [O,C/g,kh,kw], b [O] or null ->
// y [N,O,OH,OW]. A single sample's product goes straight into y, band by band (row
// stride P); several samples' product [O, count*P] is copied out with the bias.
void forward_chunk(const ConvProblem& p, const float* x, const float* w, const float* b,
                   bool relu, float* y, int64_t n0, int64_t count) {
  const int64_t OW = p.g.out_w, band_rows = count == 1 ? p.tiles.band_rows : p.g.out_h;
  float* columns = scratch(columns_scratch, p.g.column_rows() * count * band_rows * OW);
  float* product = count == 1 ? nullptr : scratch(product_scratch, p.O * count * p.P);
  for (int64_t r0 = 0; r0 < p.g.out_h; r0 += band_rows) {
    const int64_t r1 = std::min(r0 + band_rows, p.g.out_h), ld = count * (r1 - r0) * OW;
    im2col_rows(x + n0 * p.image, count, p.g, r0, r1, columns);
    float* target = count == 1 ? y + n0 * p.O * p.P + r0 * OW : product;
    const int64_t ldt = count == 1 ? p.P : ld;
    for (int64_t gi = 0; gi < p.groups; ++gi)  // Y_g [O/g, ld] = W_g [O/g, rows_g] * columns_g
      compute_gemm(false, false, p.O_g, ld, p.rows_g, 1.0f, w + gi * p.O_g * p.rows_g,
                   p.rows_g, columns + gi * p.rows_g * ld, ld, 0.0f, target + gi * p.O_g * ldt,
                   ldt);
  }
  // [O, count*P] (+ bias) -> [count, O, P]; a single sample only needs its bias.
  for (int64_t s = 0; s < count; ++s)
    for (int64_t o = 0; o < p.O; ++o) {
      float* dst = y + ((n0 + s) * p.O + o) * p.P;
      const float* src = count == 1 ? dst : product + o * count * p.P + s * p.P;
      const float bias = b ? b[o] : 0.0f;
      if (relu) {
        for (int64_t i = 0; i < p.P; ++i) dst[i] = std::max(src[i] + bias, 0.0f);
      } else if (src != dst || bias != 0.0f) {
        for (int64_t i = 0; i < p.P; ++i) dst[i] = src[i] + bias;
      }
    }
}

// dW^T's sum over N*OH*OW positions (docs/numerics.md): in one float accumulation (sgemm's
// beta = 1 over every band of the batch) the rounding error grows with the number of
// positions. Blocked instead: the bands' products accumulate in float over a block of at
// least kSumBlockPositions positions, and each block is added into a double sum. (Adding
// every band in double would stream the whole weight matrix once per band, a few hundred
// positions on 64-128 channels.)
constexpr int64_t kSumBlockPositions = 4096;

struct WeightGradientSum {
  float* block = nullptr;      // [weight_size] this block's sum so far, in float
  double* total = nullptr;     // [weight_size] the sum of the finished blocks
  int64_t block_positions = 0;  // positions in `block`; 0 = empty
  int64_t size = 0;

  void flush() {
    if (block_positions == 0) return;
#pragma omp simd
    for (int64_t i = 0; i < size; ++i) total[i] += block[i];
    block_positions = 0;
  }
};

// Backward of samples [n0, n0 + count): adds this chunk's dW^T [rows_g, O_g] per group into
// dw_t (this thread's) and writes dx for the chunk. gy [N,O,OH,OW].
void backward_chunk(const ConvProblem& p, const float* x, const float* w, const float* gy,
                    float* dx, WeightGradientSum* dw_t, int64_t n0, int64_t count) {
  const int64_t OW = p.g.out_w, band_rows = count == 1 ? p.tiles.band_rows : p.g.out_h;
  float* columns = scratch(columns_scratch, p.g.column_rows() * count * band_rows * OW);
  const float* grad = gy + n0 * p.O * p.P;  // one sample: [O, P] as it is
  int64_t ldg = p.P;
  if (count > 1) {  // several: gathered to [O, count*P]
    float* gathered = scratch(product_scratch, p.O * count * p.P);
    for (int64_t s = 0; s < count; ++s)
      for (int64_t o = 0; o < p.O; ++o)
        std::copy_n(grad + (s * p.O + o) * p.P, p.P, gathered + o * count * p.P + s * p.P);
    grad = gathered;
    ldg = count * p.P;
  }
  if (dx) std::fill_n(dx + n0 * p.image, count * p.image, 0.0f);  // bands add into it
  for (int64_t r0 = 0; r0 < p.g.out_h; r0 += band_rows) {
    const int64_t r1 = std::min(r0 + band_rows, p.g.out_h), ld = count * (r1 - r0) * OW;
    const float* grad_band = grad + r0 * OW;  // r0 == 0 when count > 1
    if (dw_t) {
      // dW_g^T [rows_g, O_g] += columns_g [rows_g, ld] * gy_g^T into the block: in this
      // orientation OpenBLAS runs faster than gy_g * columns_g^T (a short, wide result).
      im2col_rows(x + n0 * p.image, count, p.g, r0, r1, columns);
      const float beta = dw_t->block_positions == 0 ? 0.0f : 1.0f;
      for (int64_t gi = 0; gi < p.groups; ++gi)
        compute_gemm(false, true, p.rows_g, p.O_g, ld, 1.0f, columns + gi * p.rows_g * ld,
                     ld, grad_band + gi * p.O_g * ldg, ldg, beta,
                     dw_t->block + gi * p.rows_g * p.O_g, p.O_g);
      dw_t->block_positions += ld;
      if (dw_t->block_positions >= kSumBlockPositions) dw_t->flush();
    }
    if (dx) {
      for (int64_t gi = 0; gi < p.groups; ++gi)  // dcolumns_g = W_g^T * gy_g
        compute_gemm(true, false, p.rows_g, ld, p.O_g, 1.0f, w + gi * p.O_g * p.rows_g,
                     p.rows_g, grad_band + gi * p.O_g * ldg, ldg, 0.0f,
                     columns + gi * p.rows_g * ld, ld);
      col2im_rows_add(columns, count, p.g, r0, r1, dx + n0 * p.image);
    }
  }
}

// dW_g [O_g, rows_g] = dW_g^T, for every group, rounded to float once.
void store_transposed(const ConvProblem& p, const double* dw_t, float* dw) {
  for (int64_t gi = 0; gi < p.groups; ++gi)
    for (int64_t o = 0; o < p.O_g; ++o)
      for (int64_t r = 0; r < p.rows_g; ++r)
        dw[(gi * p.O_g + o) * p.rows_g + r] =
            static_cast<float>(dw_t[(gi * p.rows_g + r) * p.O_g + o]);
}

}  // namespace

// x [N,C,H,W], w [O,C/g,kh,kw], b [O] or null -> y [N,O,OH,OW] (max(y, 0) with relu)
void im2col_conv_forward(const ConvGeometry& g, int64_t batch, int64_t out_channels,
                         int64_t groups, const float* x, const float* w, const float* b, bool relu,
                         float* y) {
  const ConvProblem p(g, batch, out_channels, groups);
  const int64_t chunk = p.tiles.samples, chunks = p.chunks();
  auto run = [&](int64_t c) {
    forward_chunk(p, x, w, b, relu, y, c * chunk, std::min(chunk, p.N - c * chunk));
  };
  if (batch_parallel(chunks)) {
    SingleThreadedBlas single;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) run(c);
  } else {
    for (int64_t c = 0; c < chunks; ++c) run(c);
  }
}

// gy [N,O,OH,OW] -> dx [N,C,H,W] (if dx, overwritten), dw [O,C/g,kh,kw] (if dw, overwritten)
void im2col_conv_backward(const ConvGeometry& g, int64_t batch, int64_t out_channels,
                          int64_t groups, const float* x, const float* gy, const float* w,
                          float* dx, float* dw) {
  if (!dx && !dw) return;
  const ConvProblem p(g, batch, out_channels, groups);
  const int64_t chunk = p.tiles.samples, chunks = p.chunks();
  const int64_t weight_size = p.O * p.rows_g;
  auto run = [&](WeightGradientSum* dw_t, int64_t c) {
    backward_chunk(p, x, w, gy, dx, dw_t, c * chunk, std::min(chunk, p.N - c * chunk));
  };
  // Each thread sums its chunks' dW^T in its own slice (blocks in float, their sum in
  // double); the slices are added in thread order afterwards, so the result does not depend
  // on which thread finished first.
  const bool parallel = batch_parallel(chunks);
  const int slices = parallel ? omp_get_max_threads() : 1;
  std::vector<double> partial(dw ? slices * weight_size : 0, 0.0);
  auto slice_sum = [&](int slice) {
    return WeightGradientSum{scratch(weight_scratch, weight_size),
                             partial.data() + slice * weight_size, 0, weight_size};
  };
  if (parallel) {
    SingleThreadedBlas single;
#pragma omp parallel num_threads(slices)
    {
      WeightGradientSum sum = dw ? slice_sum(omp_get_thread_num()) : WeightGradientSum{};
#pragma omp for schedule(static)
      for (int64_t c = 0; c < chunks; ++c) run(dw ? &sum : nullptr, c);
      sum.flush();
    }
  } else {
    WeightGradientSum sum = dw ? slice_sum(0) : WeightGradientSum{};
    for (int64_t c = 0; c < chunks; ++c) run(dw ? &sum : nullptr, c);
    sum.flush();
  }
  if (dw) {
    for (int slice = 1; slice < slices; ++slice)
      for (int64_t i = 0; i < weight_size; ++i)
        partial[i] += partial[slice * weight_size + i];
    store_transposed(p, partial.data(), dw);
  }
}

}  // namespace cnn
