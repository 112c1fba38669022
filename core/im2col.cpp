// im2col / col2im over one image plane at a time. The valid output range of every kernel
// tap is computed once, so the inner loops copy (or add) without bounds tests, and the
// stride-1 case is a plain contiguous copy.
#include "core/im2col.h"

#include <algorithm>
#include <cstring>

#include "core/parallel.h"

namespace cnn {

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                         int64_t dilation) {
  int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  return span / stride + 1;
}

ConvGeometry make_conv_geometry(int64_t channels, int64_t height, int64_t width,
                                int64_t kernel_h, int64_t kernel_w, int64_t stride_h,
                                int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                int64_t dilation_h, int64_t dilation_w) {
  ConvGeometry g;
  g.channels = channels;
  g.height = height;
  g.width = width;
  g.kernel_h = kernel_h;
  g.kernel_w = kernel_w;
  g.stride_h = stride_h;
  g.stride_w = stride_w;
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  g.dilation_h = dilation_h;
  g.dilation_w = dilation_w;
  g.out_h = conv_output_size(height, kernel_h, stride_h, pad_h, dilation_h);
  g.out_w = conv_output_size(width, kernel_w, stride_w, pad_w, dilation_w);
  return g;
}

namespace {

// Output positions o in [begin, end) whose input position o*stride + offset lies in [0, size).
struct ValidRange {
  int64_t begin, end;
};

ValidRange valid_range(int64_t out, int64_t size, int64_t stride, int64_t offset) {
  int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t last = size - 1 - offset;  // largest o*stride allowed
  int64_t end = last < 0 ? 0 : last / stride + 1;
  begin = std::min(begin, out);
  end = std::max(std::min(end, out), begin);
  return {begin, end};
}

// Output rows [row_begin, row_end) of one image plane [H, W] -> its kh*kw column rows
// (row stride `ld`, B = (row_end - row_begin) * OW columns used).
void unfold_plane(const float* plane, int64_t row_begin, int64_t row_end, float* rows,
                  int64_t ld, const ConvGeometry& g) {
  const int64_t W = g.width, OW = g.out_w;
  for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
    const int64_t row_offset = ki * g.dilation_h - g.pad_h;
    ValidRange rows_ok = valid_range(g.out_h, g.height, g.stride_h, row_offset);
    rows_ok.begin = std::clamp(rows_ok.begin, row_begin, row_end);
    rows_ok.end = std::clamp(rows_ok.end, rows_ok.begin, row_end);
    for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
      const int64_t col_offset = kj * g.dilation_w - g.pad_w;
      const ValidRange cols_ok = valid_range(OW, W, g.stride_w, col_offset);
      float* row = rows + (ki * g.kernel_w + kj) * ld;  // output row oh at (oh - row_begin)*OW
      // Output rows whose tap falls in the padding above or below read zero.
      std::fill(row, row + (rows_ok.begin - row_begin) * OW, 0.0f);
      std::fill(row + (rows_ok.end - row_begin) * OW, row + (row_end - row_begin) * OW, 0.0f);
      for (int64_t oh = rows_ok.begin; oh < rows_ok.end; ++oh) {
        float* dst = row + (oh - row_begin) * OW;
        const float* src = plane + (oh * g.stride_h + row_offset) * W;  // input row
        std::fill(dst, dst + cols_ok.begin, 0.0f);
        std::fill(dst + cols_ok.end, dst + OW, 0.0f);
        if (g.stride_w == 1) {
          std::memcpy(dst + cols_ok.begin, src + cols_ok.begin + col_offset,
                      sizeof(float) * (cols_ok.end - cols_ok.begin));
        } else if (g.stride_w == 2) {  // a constant stride the compiler vectorizes
          for (int64_t ow = cols_ok.begin; ow < cols_ok.end; ++ow)
            dst[ow] = src[ow * 2 + col_offset];
        } else {
          for (int64_t ow = cols_ok.begin; ow < cols_ok.end; ++ow)
            dst[ow] = src[ow * g.stride_w + col_offset];
        }
      }
    }
  }
}

// The adjoint of unfold_plane: adds the band's kh*kw column rows into the plane.
void fold_plane(const float* rows, int64_t ld, int64_t row_begin, int64_t row_end,
                const ConvGeometry& g, float* plane) {
  const int64_t W = g.width, OW = g.out_w;
  for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
    const int64_t row_offset = ki * g.dilation_h - g.pad_h;
    ValidRange rows_ok = valid_range(g.out_h, g.height, g.stride_h, row_offset);
    rows_ok.begin = std::clamp(rows_ok.begin, row_begin, row_end);
    rows_ok.end = std::clamp(rows_ok.end, rows_ok.begin, row_end);
    for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
      const int64_t col_offset = kj * g.dilation_w - g.pad_w;
      const ValidRange cols_ok = valid_range(OW, W, g.stride_w, col_offset);
      const float* row = rows + (ki * g.kernel_w + kj) * ld;
      for (int64_t oh = rows_ok.begin; oh < rows_ok.end; ++oh) {
        const float* src = row + (oh - row_begin) * OW;
        float* dst = plane + (oh * g.stride_h + row_offset) * W;  // input row
        for (int64_t ow = cols_ok.begin; ow < cols_ok.end; ++ow)
          dst[ow * g.stride_w + col_offset] += src[ow];
      }
    }
  }
}

}  // namespace

void im2col_rows(const float* images, int64_t count, const ConvGeometry& g, int64_t row_begin,
                 int64_t row_end, float* columns) {
  const int64_t planes = count * g.channels, taps = g.kernel_h * g.kernel_w;
  const int64_t band = (row_end - row_begin) * g.out_w, ld = count * band;
  const int64_t plane_size = g.height * g.width;
#pragma omp parallel for schedule(static) if (planes * taps * band > kParallelMinPlaneElements)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t s = p / g.channels, c = p % g.channels;
    unfold_plane(images + p * plane_size, row_begin, row_end, columns + c * taps * ld + s * band,
                 ld, g);
  }
}

void col2im_rows_add(const float* columns, int64_t count, const ConvGeometry& g,
                     int64_t row_begin, int64_t row_end, float* images) {
  const int64_t planes = count * g.channels, taps = g.kernel_h * g.kernel_w;
  const int64_t band = (row_end - row_begin) * g.out_w, ld = count * band;
  const int64_t plane_size = g.height * g.width;
#pragma omp parallel for schedule(static) if (planes * taps * band > kParallelMinPlaneElements)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t s = p / g.channels, c = p % g.channels;
    fold_plane(columns + c * taps * ld + s * band, ld, row_begin, row_end, g,
               images + p * plane_size);
  }
}

void im2col(const float* images, int64_t count, const ConvGeometry& g, float* columns) {
  im2col_rows(images, count, g, 0, g.out_h, columns);
}

void col2im(const float* columns, int64_t count, const ConvGeometry& g, float* images) {
  const int64_t planes = count * g.channels, plane_size = g.height * g.width;
#pragma omp parallel for schedule(static) if (planes * plane_size > kParallelMinPlaneElements)
  for (int64_t p = 0; p < planes; ++p) std::fill_n(images + p * plane_size, plane_size, 0.0f);
  col2im_rows_add(columns, count, g, 0, g.out_h, images);
}

}  // namespace cnn
