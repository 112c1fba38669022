// train.precision: bf16 in the layers (core/precision.h): the convolutions' and linear
// layers' forward and both backward products run on bf16-rounded operands with fp32 sums.
// Each result is checked against the double-precision definition evaluated on the rounded
// operands (x, w and gy each rounded to bf16; the bias and its gradient in fp32), within the
// bound of an fp32 sum in any order: 2 (k + 2) 2^-24 sum|a||b| per element (k the terms
// summed; see tests/core/test_gemm_bf16.cpp). A 3x3 stride-1 conv is among them: Winograd
// (fp32) would miss that bound by orders of magnitude, so it also shows a bf16 path is
// taken (oneDNN's bf16 convolution where it runs, else im2col). The first case runs each
// geometry both ways: auto (oneDNN) and im2col forced.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/bf16.h"
#include "core/conv_onednn.h"
#include "core/ops.h"
#include "core/precision.h"
#include "core/random.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "tests/layers/naive_conv.h"
#include "tests/bf16_bound.h"

using namespace cnn;
using namespace cnn::testing;

namespace {

Tensor rounded(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape());
  round_to_bf16(t.contiguous().data(), t.numel(), out.data());
  return out;
}

Tensor absolute(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape());
  const Tensor c = t.contiguous();
  for (int64_t i = 0; i < t.numel(); ++i) out.data()[i] = std::fabs(c.data()[i]);
  return out;
}

struct ConvCase {
  std::string name;
  Conv2dOptions options;
  Shape input;
};

}  // namespace

TEST_CASE("bf16: conv2d forward and both gradients on bf16 operands, fp32 sums", "[bf16]") {
  ScopedPrecision bf16_scope(Precision::bf16);
  std::vector<ConvCase> cases;
  cases.push_back({"3x3 stride 1 (Winograd's shape in fp32)", {}, {2, 8, 10, 10}});
  cases.back().options.in_channels = 8;
  cases.back().options.out_channels = 16;
  cases.push_back({"5x3 stride 2, groups 2, padded", {}, {3, 6, 9, 11}});
  ConvCase& grouped = cases.back();
  grouped.options.in_channels = 6;
  grouped.options.out_channels = 4;
  grouped.options.kernel_size = {5, 3};
  grouped.options.stride = {2, 2};
  grouped.options.padding = {2, 1};
  grouped.options.groups = 2;
  cases[0].options.kernel_size = {3, 3};
  cases[0].options.padding = {1, 1};
  for (size_t i = 0, n = cases.size(); i < n; ++i) {  // each again with im2col forced
    cases.push_back(cases[i]);
    cases.back().name += ", im2col forced";
    cases.back().options.algorithm = ConvAlgorithm::kIm2col;
  }
  Generator generator(18);
  for (const ConvCase& c : cases) {
    INFO(c.name);
    const Conv2dOptions& o = c.options;
    Tensor x = randn(c.input, generator).set_requires_grad();
    Tensor w = mul_scalar(randn({o.out_channels, o.in_channels / o.groups, o.kernel_size.first,
                                 o.kernel_size.second},
                                generator),
                          0.3f)
                   .set_requires_grad();
    Tensor b = randn({o.out_channels}, generator).set_requires_grad();
    Tensor y = conv2d(x, w, b, o);
    const Tensor xr = rounded(x.detach()), wr = rounded(w.detach());
    const int64_t terms = o.in_channels / o.groups * o.kernel_size.first * o.kernel_size.second;
    CHECK(count_off_bf16_bound(y, naive_conv2d(xr, wr, b.detach(), o),
                    naive_conv2d(absolute(xr), absolute(wr), Tensor(), o), terms) == 0);

    const Tensor gy = randn(y.shape(), generator);
    y.backward(gy);
    const Tensor gyr = rounded(gy);
    const NaiveConvGradients want = naive_conv2d_backward(xr, wr, true, gyr, o);
    const NaiveConvGradients scale =
        naive_conv2d_backward(absolute(xr), absolute(wr), false, absolute(gyr), o);
    CHECK(count_off_bf16_bound(x.grad(), want.input, scale.input,
                    o.out_channels * o.kernel_size.first * o.kernel_size.second) == 0);
    CHECK(count_off_bf16_bound(w.grad(), want.weight, scale.weight, y.numel() / o.out_channels) == 0);
    // The bias gradient sums the fp32 gy (no GEMM): the fp32 sum of gy itself.
    const NaiveConvGradients fp32_bias = naive_conv2d_backward(xr, wr, true, gy, o);
    const NaiveConvGradients bias_scale =
        naive_conv2d_backward(absolute(xr), absolute(wr), true, absolute(gy), o);
    CHECK(count_off_bf16_bound(b.grad(), fp32_bias.bias, bias_scale.bias, y.numel() / o.out_channels) == 0);
  }
}

TEST_CASE("bf16: conv2d runs oneDNN's bf16 convolution, im2col when forced", "[bf16]") {
  Conv2dOptions o;
  o.in_channels = 16;
  o.out_channels = 32;
  o.kernel_size = {3, 3};
  o.padding = {1, 1};
  const Shape input{8, 16, 12, 12};
  CHECK(conv2d_algorithm(input, o) == ConvAlgorithm::kWinograd);  // fp32 auto: unchanged
  ScopedPrecision bf16_scope(Precision::bf16);
  OnednnConvShape shape;
  shape.geometry = make_conv_geometry(16, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1);
  shape.batch = 8;
  shape.out_channels = 32;
  shape.bf16 = true;
  if (!onednn_conv_runs_fast(shape)) {
    WARN("oneDNN has no fast bf16 convolution here: every conv runs im2col");
    CHECK(conv2d_algorithm(input, o) == ConvAlgorithm::kIm2col);
    return;
  }
  CHECK(conv2d_algorithm(input, o) == ConvAlgorithm::kOnednn);
  o.stride = {2, 2};  // strided, grouped, dilated: oneDNN too
  o.groups = 2;
  o.dilation = {2, 1};
  CHECK(conv2d_algorithm(input, o) == ConvAlgorithm::kOnednn);
  o.algorithm = ConvAlgorithm::kIm2col;
  CHECK(conv2d_algorithm(input, o) == ConvAlgorithm::kIm2col);
}

// On oneDNN the layer keeps x as the primitive read it (bf16, half the bytes) for dW, so the
// fp32 input is freed once its owner drops it: the memory bf16 training saves.
TEST_CASE("bf16: conv2d on oneDNN frees its fp32 input, dW from the kept bf16 copy", "[bf16]") {
  if (!onednn_bf16_conv_available()) {
    WARN("skipped: oneDNN makes no bf16 convolution on this CPU (it needs AVX-512)");
    return;
  }
  ScopedPrecision bf16_scope(Precision::bf16);
  Conv2dOptions o;
  o.in_channels = 16;
  o.out_channels = 32;
  o.kernel_size = {3, 3};
  o.padding = {1, 1};
  Generator generator(5);
  Tensor leaf = randn({4, 16, 8, 8}, generator).set_requires_grad();
  Tensor w = randn({32, 16, 3, 3}, generator).set_requires_grad();
  const Tensor gy = randn({4, 32, 8, 8}, generator);
  REQUIRE(conv2d_algorithm(leaf.shape(), o) == ConvAlgorithm::kOnednn);
  std::weak_ptr<Storage> input;
  Tensor loss;
  {
    Tensor x = leaf * 2.0f;  // an activation: only the conv could keep it
    input = x.impl()->storage;
    loss = sum(conv2d(x, w, Tensor(), o, false) * gy);
  }
  CHECK(input.expired());
  loss.backward();
  // dW against the emulated bf16 convolution of the same x: within the fp32 sums' bound.
  const Tensor xr = rounded(leaf.detach() * 2.0f), wr = rounded(w.detach()), gyr = rounded(gy);
  const NaiveConvGradients want = naive_conv2d_backward(xr, wr, false, gyr, o);
  const NaiveConvGradients scale =
      naive_conv2d_backward(absolute(xr), absolute(wr), false, absolute(gyr), o);
  CHECK(count_off_bf16_bound(w.grad(), want.weight, scale.weight, 4 * 8 * 8) == 0);
}

TEST_CASE("bf16: linear forward and both gradients on bf16 operands, fp32 sums", "[bf16]") {
  ScopedPrecision bf16_scope(Precision::bf16);
  Generator generator(7);
  const int64_t M = 9, F = 70, O = 13;
  Tensor x = randn({M, F}, generator).set_requires_grad();
  Tensor w = randn({O, F}, generator).set_requires_grad();
  Tensor b = randn({O}, generator);
  Tensor y = linear(x, w, b);
  const Tensor gy = randn({M, O}, generator);
  y.backward(gy);
  const Tensor xr = rounded(x.detach()), wr = rounded(w.detach()), gyr = rounded(gy);
  // The definitions in double: y = x w^T + b, dx = gy w, dw = gy^T x.
  Tensor want_y = Tensor::empty({M, O}), scale_y = Tensor::empty({M, O});
  Tensor want_dx = Tensor::empty({M, F}), scale_dx = Tensor::empty({M, F});
  Tensor want_dw = Tensor::empty({O, F}), scale_dw = Tensor::empty({O, F});
  auto at = [](const Tensor& t, int64_t i, int64_t j) {
    return static_cast<double>(t.data()[i * t.size(1) + j]);
  };
  for (int64_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < O; ++o) {
      double sum = b.data()[o], magnitude = 0;
      for (int64_t f = 0; f < F; ++f) {
        sum += at(xr, m, f) * at(wr, o, f);
        magnitude += std::fabs(at(xr, m, f) * at(wr, o, f));
      }
      want_y.data()[m * O + o] = static_cast<float>(sum);
      scale_y.data()[m * O + o] = static_cast<float>(magnitude);
    }
  for (int64_t f = 0; f < F; ++f) {
    for (int64_t m = 0; m < M; ++m) {
      double sum = 0, magnitude = 0;
      for (int64_t o = 0; o < O; ++o) {
        sum += at(gyr, m, o) * at(wr, o, f);
        magnitude += std::fabs(at(gyr, m, o) * at(wr, o, f));
      }
      want_dx.data()[m * F + f] = static_cast<float>(sum);
      scale_dx.data()[m * F + f] = static_cast<float>(magnitude);
    }
    for (int64_t o = 0; o < O; ++o) {
      double sum = 0, magnitude = 0;
      for (int64_t m = 0; m < M; ++m) {
        sum += at(gyr, m, o) * at(xr, m, f);
        magnitude += std::fabs(at(gyr, m, o) * at(xr, m, f));
      }
      want_dw.data()[o * F + f] = static_cast<float>(sum);
      scale_dw.data()[o * F + f] = static_cast<float>(magnitude);
    }
  }
  CHECK(count_off_bf16_bound(y, want_y, scale_y, F) == 0);
  CHECK(count_off_bf16_bound(x.grad(), want_dx, scale_dx, O) == 0);
  CHECK(count_off_bf16_bound(w.grad(), want_dw, scale_dw, M) == 0);
}

TEST_CASE("bf16: ScopedPrecision restores fp32 and names are checked", "[bf16]") {
  CHECK(compute_precision() == Precision::fp32);
  {
    ScopedPrecision scope(Precision::bf16);
    CHECK(compute_precision() == Precision::bf16);
  }
  CHECK(compute_precision() == Precision::fp32);
  CHECK(precision_from_name("bf16", "train.precision") == Precision::bf16);
  CHECK_THROWS_WITH(precision_from_name("fp16", "train.precision"),
                    "train.precision: expected fp32 or bf16, found 'fp16'");
}
