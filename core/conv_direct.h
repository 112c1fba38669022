// Direct convolution (forward only) for the layers where im2col + sgemm is a poor fit:
// few input channels (a first layer's 3, so sgemm's inner dimension is only C*kh*kw = 27)
// and strided layers (im2col's strided gather costs as much as the product). Each output
// row is cut into vectors of consecutive pixels; a register tile of 8 output channels x 3
// pixel vectors accumulates over every tap (c, ki, kj) with one broadcast weight per
// channel, so nothing is unfolded. The input is first copied, per sample, into a zero-padded
// buffer whose rows are split into `stride` column phases, which makes every tap's pixels
// contiguous whatever the stride.
#pragma once

#include <cstdint>

#include "core/im2col.h"

namespace cnn {

// Whether the direct kernel is the faster choice for this geometry (one group; measured
// against im2col + sgemm in docs/performance.md).
bool direct_conv_applies(const ConvGeometry& geometry, int64_t groups, int64_t out_channels);

// x [N,C,H,W], w [O,C,kh,kw], b [O] or null -> y [N,O,OH,OW] (max(y, 0) with relu).
void direct_conv_forward(const ConvGeometry& geometry, int64_t batch, int64_t out_channels,
                         const float* x, const float* w, const float* b, bool relu, float* y);

}  // namespace cnn
