// Winograd F(4x4, 3x3) convolution (Lavin & Gray 2016) for 3x3 kernels with stride 1,
// dilation 1 and one group: each 4x4 block of outputs is computed from a 6x6 input patch
// with 36 multiplications per channel pair instead of 144, as 36 matrix products
//   M[xi] (tiles x O) = V[xi] (tiles x C) * U[xi] (C x O)
// between transformed input patches V = B^T d B and transformed kernels U = G g G^T,
// followed by the output transform Y = A^T M A. Interpolation points 0, 1, -1, 2, -2, inf.
//
// The backward pass is the same algorithm run backwards (the adjoint of every linear step):
//   dM = A dY A^T,  dU[xi] += V[xi]^T dM[xi],  dV[xi] = dM[xi] U[xi]^T,
//   dd = B dV B^T (overlapping patches summed),  dg = G^T dU G.
// Results agree with the direct convolution up to float rounding (relative error ~1e-6
// to 1e-5 of the output scale; the transforms' coefficients are at most 8).
#pragma once

#include <cstdint>
#include <vector>

#include "core/im2col.h"

namespace cnn {

// Whether the Winograd kernels apply: 3x3, stride 1, dilation 1, one group, at least 8
// input channels (below that the transforms cost more than the products save).
bool winograd_applies(const ConvGeometry& geometry, int64_t groups);
// Whether the kernels can run at all (any channel count): a forced `conv_algorithm: winograd`.
bool winograd_supports(const ConvGeometry& geometry, int64_t groups);

// w [O,C,3,3] -> u, the transformed kernels U = G g G^T the two calls below take, laid out
// [36][C][O] (winograd_weights_size floats, every one written: the buffer needs no
// zeroing). Computed once per step and shared by the forward and backward passes.
int64_t winograd_weights_size(int64_t in_channels, int64_t out_channels);
void winograd_transform_weights(int64_t in_channels, int64_t out_channels, const float* w,
                                float* u);

// What the forward applies to its output as it writes it.
struct WinogradEpilogue {
  bool relu = false;          // max(y, 0)
  bool max_pool_2x2 = false;  // then 2x2 max-pool, stride 2 (even OH and OW only): the
                              // output is [N,O,OH/2,OW/2]; no indices kept (evaluation)
  const float* residual_then_relu = nullptr;  // or max(y + residual, 0), residual laid
                                              // out as y (a residual block's sum, evaluation)
};

// x [N,C,H,W], u from winograd_transform_weights, b [O] or null -> y [N,O,OH,OW] (or the
// pooled map), with the epilogue applied.
void winograd_conv3x3_forward(const ConvGeometry& geometry, int64_t batch,
                              int64_t out_channels, const float* x, const float* u,
                              const float* b, WinogradEpilogue epilogue, float* y);

// gy [N,O,OH,OW] -> dx [N,C,H,W] (if dx, overwritten) and dw [O,C,3,3] (if dw, overwritten).
// x is needed only for dw, u only for dx.
void winograd_conv3x3_backward(const ConvGeometry& geometry, int64_t batch,
                               int64_t out_channels, const float* x, const float* u,
                               const float* gy, float* dx, float* dw);

}  // namespace cnn
