// im2col / col2im: unfold every receptive field of a batch of images into the columns of
// one matrix, so that a convolution becomes one sgemm (Chellapilla et al. 2006; Caffe).
//
// Layout of the column matrix for `count` images [count, C, H, W]:
//   rows    r = (c * kernel_h + ki) * kernel_w + kj          (C*kh*kw rows)
//   columns s * (out_h*out_w) + oh * out_w + ow               (count*OH*OW columns)
// so sample s owns a contiguous block of every row, and the rows of one group of channels
// are contiguous (a grouped convolution takes one row band per group).
#pragma once

#include <cstdint>

namespace cnn {

struct ConvGeometry {
  int64_t channels = 0, height = 0, width = 0;  // one input image [C,H,W]
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t out_h = 0, out_w = 0;  // filled by make_conv_geometry

  int64_t column_rows() const { return channels * kernel_h * kernel_w; }
  int64_t out_pixels() const { return out_h * out_w; }
};

// floor((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1, as torch.nn.Conv2d; may be <= 0
// when the kernel does not fit (callers turn that into an error naming the layer).
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                         int64_t dilation);

// Fills out_h/out_w from the other fields.
ConvGeometry make_conv_geometry(int64_t channels, int64_t height, int64_t width,
                                int64_t kernel_h, int64_t kernel_w, int64_t stride_h,
                                int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                int64_t dilation_h, int64_t dilation_w);

// images [count, C, H, W] -> columns [C*kh*kw, count*OH*OW] (overwritten; padding reads 0).
// Parallel (OpenMP) over count*C image planes.
void im2col(const float* images, int64_t count, const ConvGeometry& geometry, float* columns);

// The adjoint of im2col: columns [C*kh*kw, count*OH*OW] -> images [count, C, H, W]
// (overwritten, overlapping receptive fields summed). Parallel over count*C planes, each
// written by one thread only.
void col2im(const float* columns, int64_t count, const ConvGeometry& geometry, float* images);

// A band of output rows [row_begin, row_end) only, so a large map can be unfolded a piece
// at a time that fits in cache: columns [C*kh*kw, count*B] with B = (row_end-row_begin)*OW.
void im2col_rows(const float* images, int64_t count, const ConvGeometry& geometry,
                 int64_t row_begin, int64_t row_end, float* columns);
// Adds the band's columns into images (not zeroed first: bands overlap in the input).
void col2im_rows_add(const float* columns, int64_t count, const ConvGeometry& geometry,
                     int64_t row_begin, int64_t row_end, float* images);

}  // namespace cnn
