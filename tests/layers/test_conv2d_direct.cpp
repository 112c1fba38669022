// The direct convolution kernel (core/conv_direct.h) against the naive convolution: strides
// 1-3, dilation, paddings, maps whose rows end in a partial vector (8- and 16-pixel
// vectors), output channels that are not a multiple of the register tile, bias or none,
// ReLU or none, and small batches whose rows are split between threads; plus conv2d's
// choice of the kernel and its gradients (the backward is im2col's).
#include <catch2/catch.hpp>
#include <sstream>

#include "core/conv_direct.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/conv2d.h"
#include "tests/gradcheck.h"
#include "tests/layers/naive_conv.h"
#include "tests/layers/tensor_compare.h"
#include "tests/omp_threads.h"

using namespace cnn;

namespace {

struct Case {
  int64_t N, C, O, H, W, kernel, stride, padding, dilation;
  bool bias, relu;
};

std::string describe(const Case& c) {
  std::ostringstream out;
  out << "N=" << c.N << " C=" << c.C << " O=" << c.O << " H=" << c.H << " W=" << c.W
      << " k=" << c.kernel << " s=" << c.stride << " p=" << c.padding << " d=" << c.dilation
      << " bias=" << c.bias << " relu=" << c.relu;
  return out.str();
}

Conv2dOptions options_of(const Case& c) {
  Conv2dOptions o;
  o.in_channels = c.C;
  o.out_channels = c.O;
  o.kernel_size = {c.kernel, c.kernel};
  o.stride = {c.stride, c.stride};
  o.padding = {c.padding, c.padding};
  o.dilation = {c.dilation, c.dilation};
  o.bias = c.bias;
  return o;
}

void compare_direct(const Case& c, uint64_t seed) {
  Generator gen(seed);
  const Conv2dOptions o = options_of(c);
  const ConvGeometry g = make_conv_geometry(c.C, c.H, c.W, c.kernel, c.kernel, c.stride,
                                            c.stride, c.padding, c.padding, c.dilation,
                                            c.dilation);
  Tensor x = randn({c.N, c.C, c.H, c.W}, gen);
  Tensor w = randn({c.O, c.C, c.kernel, c.kernel}, gen);
  Tensor b = c.bias ? randn({c.O}, gen) : Tensor();
  Tensor y = Tensor::empty({c.N, c.O, g.out_h, g.out_w});
  direct_conv_forward(g, c.N, c.O, x.data(), w.data(), c.bias ? b.data() : nullptr, c.relu,
                      y.data());
  Tensor expected = cnn::testing::naive_conv2d(x, w, b, o);
  if (c.relu) expected = relu(expected);
  cnn::testing::require_close(describe(c), y, expected, 1e-4, 1e-4);
}

}  // namespace

TEST_CASE("direct convolution matches the naive one", "[conv2d][direct]") {
  const std::vector<Case> cases = {
      {2, 3, 16, 32, 32, 3, 1, 1, 1, true, false},   // a CIFAR first layer
      {2, 3, 5, 9, 20, 3, 1, 1, 1, false, true},    // 20 wide: a full and a partial vector
      {3, 1, 17, 11, 13, 5, 1, 2, 1, true, true},   // 5x5, 17 channels: a partial tile
      {2, 4, 8, 17, 17, 3, 2, 1, 1, true, false},   // stride 2, 8-pixel vectors
      {2, 16, 9, 32, 32, 3, 2, 1, 1, false, true},  // stride 2, 16 channels
      {1, 3, 6, 30, 40, 7, 3, 3, 1, true, false},   // 7x7 stride 3
      {2, 2, 3, 20, 24, 3, 1, 2, 2, true, true},    // dilation 2
      {2, 3, 4, 15, 33, 3, 2, 0, 2, false, false},  // stride and dilation, no padding
      {2, 3, 8, 6, 8, 3, 1, 1, 1, true, false},     // exactly one 8-pixel vector a row
  };
  uint64_t seed = 1;
  for (const Case& c : cases) compare_direct(c, seed++);
}

TEST_CASE("direct convolution splits a small batch's rows between threads",
          "[conv2d][direct]") {
  cnn::testing::ScopedOmpThreads threads(3);  // one sample, three threads: rows in three parts
  compare_direct({1, 3, 10, 23, 19, 3, 1, 1, 1, true, true}, 11);
  compare_direct({2, 3, 10, 7, 16, 3, 1, 1, 1, true, false}, 12);
}

TEST_CASE("conv2d takes the direct kernel for few input channels and strides",
          "[conv2d][direct]") {
  auto geometry = [](int64_t C, int64_t W, int64_t k, int64_t stride) {
    return make_conv_geometry(C, 32, W, k, k, stride, stride, k / 2, k / 2, 1, 1);
  };
  REQUIRE(direct_conv_applies(geometry(3, 32, 3, 1), 1, 32));        // 27 taps
  REQUIRE(direct_conv_applies(geometry(64, 32, 3, 2), 1, 128));      // strided
  REQUIRE_FALSE(direct_conv_applies(geometry(64, 32, 3, 1), 1, 64));   // many taps
  REQUIRE_FALSE(direct_conv_applies(geometry(3, 32, 3, 1), 3, 3));     // grouped
  REQUIRE_FALSE(direct_conv_applies(geometry(16, 32, 1, 2), 1, 32));   // 1x1
  REQUIRE_FALSE(direct_conv_applies(geometry(64, 12, 3, 2), 1, 128));  // 6 pixels wide
}

TEST_CASE("conv2d through the direct kernel: forward and finite-difference gradients",
          "[conv2d][direct][grad]") {
  Generator gen(5);
  const Case c{2, 3, 4, 9, 20, 3, 2, 1, 1, true, false};
  const Conv2dOptions o = options_of(c);
  REQUIRE(direct_conv_applies(make_conv_geometry(3, 9, 20, 3, 3, 2, 2, 1, 1, 1, 1), 1, 4));
  Tensor x = randn({2, 3, 9, 20}, gen), w = randn({4, 3, 3, 3}, gen), b = randn({4}, gen);
  cnn::testing::require_close("conv2d relu", conv2d(x, w, b, o, true),
                              relu(cnn::testing::naive_conv2d(x, w, b, o)), 1e-4, 1e-4);
  cnn::testing::check_gradients(
      "conv2d direct", [o](auto& in) { return conv2d(in[0], in[1], in[2], o); },
      {x.set_requires_grad(), w.set_requires_grad(), b.set_requires_grad()});
}
