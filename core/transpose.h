// Out-of-place matrix transpose of floats, the layout change between channel-first images
// [C][W] and channel-last rows [W][C] (Winograd's staging):
//   dst[j * dst_stride + i] = src[i * src_stride + j]      for i < rows, j < cols
// transpose_add adds instead of storing. 8x8 blocks go through AVX registers when the
// build targets AVX (the usual -march=native build); the edges, and builds without AVX,
// take a plain loop.
#pragma once

#include <cstdint>

namespace cnn {

void transpose(const float* src, int64_t src_stride, int64_t rows, int64_t cols, float* dst,
               int64_t dst_stride);
void transpose_add(const float* src, int64_t src_stride, int64_t rows, int64_t cols,
                   float* dst, int64_t dst_stride);

}  // namespace cnn
