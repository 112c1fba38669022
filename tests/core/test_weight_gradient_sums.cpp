// The long reductions of the convolution backward against double references: the weight
// gradient summed over N*OH*OW positions (im2col's bands and Winograd's blocks, each in
// float, added in double) and the bias gradient. The bounds are stated per case: relative
// L2 error of the float result against the double one.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/conv_gradients.h"
#include "core/conv_im2col.h"
#include "core/random.h"
#include "core/winograd.h"

using namespace cnn;

namespace {

// dw [O,C,3,3] = sum over n, oh, ow of gy[n,o,oh,ow] * x[n,c,oh+ki-1,ow+kj-1], in double.
std::vector<double> reference_weight_gradient(const Tensor& x, const Tensor& gy, int64_t O) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> dw(O * C * 9, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < 9; ++k) {
          const int64_t ki = k / 3 - 1, kj = k % 3 - 1;
          double total = 0.0;
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w) {
              const int64_t ih = h + ki, iw = w + kj;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              total += static_cast<double>(gy.data()[((n * O + o) * H + h) * W + w]) *
                       x.data()[((n * C + c) * H + ih) * W + iw];
            }
          dw[(o * C + c) * 9 + k] += total;
        }
  return dw;
}

double relative_error(const float* value, const std::vector<double>& reference) {
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    diff += (value[i] - reference[i]) * (value[i] - reference[i]);
    norm += reference[i] * reference[i];
  }
  return std::sqrt(diff / norm);
}

}  // namespace

// Inputs as after a ReLU (non-negative) and a positive-mean gradient: every term of the
// 256 * 16 * 16 = 65536-position sum has the same sign, so nothing cancels and a single
// float accumulation's error grows with the count (the case blocked sums are for). With the
// whole batch summed in float (sgemm's beta = 1 band after band) the errors were 1.1e-7
// (2 threads) to 2.2e-7 (1 thread) for im2col and 1.2e-7 for Winograd; with each band's or
// block's product added in double, 2.1e-8 and 6.3e-8 (Winograd's own transforms remain).
TEST_CASE("conv weight gradient over 65536 positions: im2col within 6e-8, Winograd 1e-7 of double",
          "[core][numerics]") {
  const int64_t N = 256, C = 8, O = 8, H = 16, W = 16;
  Generator generator(11);
  const Tensor x = rand({N, C, H, W}, generator);
  const Tensor gy = rand({N, O, H, W}, generator);
  const std::vector<double> reference = reference_weight_gradient(x, gy, O);
  const ConvGeometry g = make_conv_geometry(C, H, W, 3, 3, 1, 1, 1, 1, 1, 1);
  std::vector<float> dw(O * C * 9);

  im2col_conv_backward(g, N, O, 1, x.data(), gy.data(), nullptr, nullptr, dw.data());
  const double im2col_error = relative_error(dw.data(), reference);
  INFO("im2col: " << im2col_error);
  CHECK(im2col_error < 6e-8);

  REQUIRE(winograd_applies(g, 1));
  winograd_conv3x3_backward(g, N, O, x.data(), nullptr, gy.data(), nullptr, dw.data());
  const double winograd_error = relative_error(dw.data(), reference);
  INFO("winograd: " << winograd_error);
  CHECK(winograd_error < 1e-7);
}

TEST_CASE("conv bias gradient over 65536 positions within 1e-6 of double", "[core][numerics]") {
  const int64_t N = 256, O = 4, P = 256;
  Generator generator(12);
  const Tensor gy = rand({N, O, P}, generator);
  std::vector<double> reference(O, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < P; ++i) reference[o] += gy.data()[(n * O + o) * P + i];
  std::vector<float> db(O);
  conv_bias_gradient(gy.data(), N, O, P, db.data());
  CHECK(relative_error(db.data(), reference) < 1e-6);
}
