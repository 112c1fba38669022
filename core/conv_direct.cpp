// Direct convolution, forward only (see conv_direct.h). Dimension letters: N batch, C input
// channels, O output channels, H x W input, OH x OW output, K = C*kh*kw taps.
#include "core/conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace cnn {

namespace {

// A register tile: kBlock output channels x kVectors vectors of consecutive output pixels
// (24 accumulators, 3 input vectors and a broadcast weight: 28 of AVX-512's 32 registers).
constexpr int64_t kBlock = 8;
constexpr int64_t kVectors = 3;

// 16 pixels per vector for rows of 9 or more, 8 for narrower maps (so an 8-wide map does
// not leave half of every vector idle). GCC/clang vector types: AVX-512 or AVX2 registers.
using Wide = float __attribute__((vector_size(16 * sizeof(float))));
using Narrow = float __attribute__((vector_size(8 * sizeof(float))));

// Where everything lies for one call. The padded buffer holds, per input channel, rows of
// the zero-padded input; each row is stored as stride_w phases (padded columns p, p + s,
// p + 2s, ...), so output pixel ow's tap kj reads phase (kj*dilation) % s at index
// ow + (kj*dilation) / s: consecutive pixels, consecutive floats.
struct Layout {
  ConvGeometry g;
  int64_t O, K;
  int64_t lanes;        // pixels per vector: 16 or 8
  int64_t segments;     // vectors per output row: ceil(OW / lanes)
  int64_t phase_len;    // floats per phase of a padded row
  int64_t row_len;      // stride_w * phase_len
  int64_t rows;         // padded rows: H + 2*pad_h
  int64_t channel_len;  // rows * row_len
  std::vector<int64_t> tap_offset;  // [K]: from a pixel vector's base to its tap's floats
  struct Place {
    int64_t input, output, valid;  // base in the buffer, first pixel in the map, pixels
  };
  std::vector<Place> places;  // [OH * segments]: output vector t = oh * segments + segment

  Layout(const ConvGeometry& geometry, int64_t out_channels)
      : g(geometry), O(out_channels), K(g.channels * g.kernel_h * g.kernel_w) {
    lanes = g.out_w <= 8 ? 8 : 16;
    segments = (g.out_w + lanes - 1) / lanes;
    phase_len = segments * lanes + (g.kernel_w - 1) * g.dilation_w / g.stride_w;
    row_len = g.stride_w * phase_len;
    rows = g.height + 2 * g.pad_h;
    channel_len = rows * row_len;
    tap_offset.reserve(K);
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t ki = 0; ki < g.kernel_h; ++ki)
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          const int64_t column = kj * g.dilation_w;
          tap_offset.push_back(c * channel_len + ki * g.dilation_h * row_len +
                               (column % g.stride_w) * phase_len + column / g.stride_w);
        }
    place_vectors();
  }
  void place_vectors() {
    places.reserve(g.out_h * segments);
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < segments * lanes; ow += lanes)
        places.push_back({oh * g.stride_h * row_len + ow, oh * g.out_w + ow,
                          std::min(lanes, g.out_w - ow)});
  }
  int64_t buffer_floats() const { return g.channels * channel_len; }
};

// One sample x [C,H,W] -> the padded, phase-split buffer (zeroed in one pass, then the
// input copied in: many short fills would cost more than the copy).
void pad_sample(const Layout& l, const float* x, float* buffer) {
  const ConvGeometry& g = l.g;
  const int64_t W = g.width, s = g.stride_w, pad = g.pad_w, len = l.phase_len;
  std::fill_n(buffer, l.buffer_floats(), 0.0f);
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t in_row = 0; in_row < g.height; ++in_row) {
      float* row = buffer + c * l.channel_len + (in_row + g.pad_h) * l.row_len;
      const float* src = x + (c * g.height + in_row) * W;
      // Input column i is padded column i + pad: phase (i + pad) % s, entry (i + pad) / s.
      // Entries past the phase's length are columns no output reads.
      if (s == 1) {
        std::copy(src, src + std::clamp<int64_t>(len - pad, 0, W), row + pad);
      } else if (s == 2) {  // split even and odd columns: a loop the compiler vectorizes
        float* even = row + (pad % 2) * len + pad / 2;        // input columns 2q
        float* odd = row + ((pad + 1) % 2) * len + (pad + 1) / 2;  // input columns 2q + 1
        const int64_t evens = std::clamp<int64_t>(len - pad / 2, 0, (W + 1) / 2);
        const int64_t odds = std::clamp<int64_t>(len - (pad + 1) / 2, 0, W / 2);
        const int64_t both = std::min(evens, odds);
        for (int64_t q = 0; q < both; ++q) {
          even[q] = src[2 * q];
          odd[q] = src[2 * q + 1];
        }
        for (int64_t q = both; q < evens; ++q) even[q] = src[2 * q];
      } else {
        for (int64_t i = 0; i < W; ++i) {
          const int64_t entry = (i + pad) / s;
          if (entry < len) row[((i + pad) % s) * len + entry] = src[i];
        }
      }
    }
}

// w [O,C,kh,kw] -> [ceil(O/kBlock)][K][kBlock], zero for the missing channels of the last
// block, so a tile reads its kBlock weights of a tap as consecutive floats.
std::vector<float> pack_weights(const Layout& l, const float* w) {
  const int64_t blocks = (l.O + kBlock - 1) / kBlock;
  std::vector<float> packed(blocks * l.K * kBlock, 0.0f);
  for (int64_t o = 0; o < l.O; ++o)
    for (int64_t k = 0; k < l.K; ++k)
      packed[((o / kBlock) * l.K + k) * kBlock + o % kBlock] = w[o * l.K + k];
  return packed;
}

// value in every lane (x - 0 is exactly x, so this compiles to one broadcast)
template <class Vector>
inline Vector broadcast(float value) {
  return value - Vector{};
}

// Output vectors [t0, t0 + count) (t = oh * segments + segment; count <= kVectors) of
// channels [o0, o0 + channels) of one sample: y [O,OH,OW].
template <class Vector>
void tile(const Layout& l, const float* buffer, const float* block_weights, const float* b,
          bool relu, int64_t o0, int64_t channels, int64_t t0, int64_t count, float* y) {
  constexpr int64_t kLanes = sizeof(Vector) / sizeof(float);
  const ConvGeometry& g = l.g;
  const Layout::Place* place = l.places.data() + t0;
  const float* base[kVectors];
  for (int64_t v = 0; v < kVectors; ++v)  // a short tile repeats its last vector
    base[v] = buffer + place[std::min(v, count - 1)].input;
  Vector sum[kBlock][kVectors];  // starts at the bias (element by element: `= {}` is a memset)
#pragma GCC unroll 8
  for (int64_t j = 0; j < kBlock; ++j) {
    const Vector start = broadcast<Vector>(b && j < channels ? b[o0 + j] : 0.0f);
#pragma GCC unroll 4
    for (int64_t v = 0; v < kVectors; ++v) sum[j][v] = start;
  }
  for (int64_t k = 0; k < l.K; ++k) {
    const int64_t offset = l.tap_offset[k];
    Vector in[kVectors];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kVectors; ++v) std::memcpy(&in[v], base[v] + offset, sizeof(Vector));
    const float* wk = block_weights + k * kBlock;
#pragma GCC unroll 8
    for (int64_t j = 0; j < kBlock; ++j) {
      const Vector weight = broadcast<Vector>(wk[j]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kVectors; ++v) sum[j][v] += weight * in[v];
    }
  }
  if (relu) {
#pragma GCC unroll 8
    for (int64_t j = 0; j < kBlock; ++j)
#pragma GCC unroll 4
      for (int64_t v = 0; v < kVectors; ++v) sum[j][v] = sum[j][v] > 0.0f ? sum[j][v] : Vector{};
  }
  const int64_t map = g.out_h * g.out_w;
  float* dst[kVectors];
  bool whole = count == kVectors && channels == kBlock;  // every vector stored in full
  for (int64_t v = 0; v < kVectors; ++v) {
    const Layout::Place& at = place[std::min(v, count - 1)];
    dst[v] = y + o0 * map + at.output;
    whole = whole && at.valid == kLanes;
  }
  if (whole) {  // constant loop bounds (unrolled) keep `sum` in registers
#pragma GCC unroll 8
    for (int64_t j = 0; j < kBlock; ++j)
#pragma GCC unroll 4
      for (int64_t v = 0; v < kVectors; ++v) std::memcpy(dst[v] + j * map, &sum[j][v], sizeof(Vector));
    return;
  }
  // The edges of the map: a copy, so that the run-time bounds below leave `sum` alone.
  Vector result[kBlock][kVectors];
#pragma GCC unroll 8
  for (int64_t j = 0; j < kBlock; ++j)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kVectors; ++v) result[j][v] = sum[j][v];
  for (int64_t v = 0; v < count; ++v)
    for (int64_t j = 0; j < channels; ++j)
      std::memcpy(dst[v] + j * map, &result[j][v], place[v].valid * sizeof(float));
}

// Output rows [row_begin, row_end) of one sample, all channels.
template <class Vector>
void sample_rows(const Layout& l, const float* buffer, const std::vector<float>& packed,
                 const float* b, bool relu, int64_t row_begin, int64_t row_end, float* y) {
  const int64_t t_end = row_end * l.segments;
  for (int64_t o0 = 0; o0 < l.O; o0 += kBlock)
    for (int64_t t0 = row_begin * l.segments; t0 < t_end; t0 += kVectors)
      tile<Vector>(l, buffer, packed.data() + (o0 / kBlock) * l.K * kBlock, b, relu, o0,
                   std::min(kBlock, l.O - o0), t0, std::min(kVectors, t_end - t0), y);
}

thread_local std::vector<float> padded_scratch;

}  // namespace

bool direct_conv_applies(const ConvGeometry& g, int64_t groups, int64_t out_channels) {
  // Measured with 1 and 2 threads against im2col + sgemm (docs/performance.md): faster by
  // 1.1-1.8x for up to 64 taps or a stride, slower for 1x1 kernels (im2col is then a plain
  // copy) and for maps under 8 pixels wide (vectors half empty).
  if (groups != 1 || out_channels < 1 || g.out_h < 1 || g.out_w < 8) return false;
  if (g.kernel_h * g.kernel_w == 1) return false;
  const int64_t taps = g.channels * g.kernel_h * g.kernel_w;
  return taps <= 64 || g.stride_w > 1 || g.stride_h > 1;
}

void direct_conv_forward(const ConvGeometry& g, int64_t N, int64_t O, const float* x,
                         const float* w, const float* b, bool relu, float* y) {
  const Layout l(g, O);
  const std::vector<float> packed = pack_weights(l, w);
  // Whole samples per thread; a batch smaller than the thread count also splits rows.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t splits = N >= threads ? 1 : std::min<int64_t>(g.out_h, (threads + N - 1) / N);
  const int64_t items = N * splits, image = g.channels * g.height * g.width;
#pragma omp parallel for schedule(static) if (items > 1 && threads > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / splits, part = item % splits;
    if (static_cast<int64_t>(padded_scratch.size()) < l.buffer_floats())
      padded_scratch.resize(l.buffer_floats());
    float* buffer = padded_scratch.data();
    pad_sample(l, x + n * image, buffer);
    const int64_t r0 = g.out_h * part / splits, r1 = g.out_h * (part + 1) / splits;
    float* y_n = y + n * O * g.out_h * g.out_w;
    if (l.lanes == 16) {
      sample_rows<Wide>(l, buffer, packed, b, relu, r0, r1, y_n);
    } else {
      sample_rows<Narrow>(l, buffer, packed, b, relu, r0, r1, y_n);
    }
  }
}

}  // namespace cnn
