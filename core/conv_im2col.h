// Convolution as im2col + sgemm, for every geometry (grouped, strided, dilated, padded):
// the layers' general path and the backward of every layer Winograd does not take.
// Shapes: x [N,C,H,W], w [O,C/groups,kh,kw], b [O] or null, y and gy [N,O,OH,OW].
#pragma once

#include <cstdint>

#include "core/im2col.h"

namespace cnn {

// y = conv(x, w) + b (max(y, 0) with relu)
void im2col_conv_forward(const ConvGeometry& geometry, int64_t batch, int64_t out_channels,
                         int64_t groups, const float* x, const float* w, const float* b, bool relu,
                         float* y);

// gy -> dx (if dx) and dw (if dw), both overwritten; x is needed only for dw, w only for dx.
void im2col_conv_backward(const ConvGeometry& geometry, int64_t batch, int64_t out_channels,
                          int64_t groups, const float* x, const float* gy, const float* w,
                          float* dx, float* dw);

}  // namespace cnn
