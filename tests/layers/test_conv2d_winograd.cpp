// Winograd F(4x4,3x3) (core/winograd.h) against the naive convolution: forward, dx and dw
// over map sizes that leave partial tiles, paddings 0-2, batches that split into several
// thread items, and channel counts that are not multiples of the vector width; plus the
// finite-difference check through conv2d, which takes the Winograd path for these shapes.
#include <catch2/catch.hpp>

#include "core/random.h"
#include "core/winograd.h"
#include "layers/conv2d.h"
#include "tests/gradcheck.h"
#include "tests/layers/naive_conv.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;

namespace {

Tensor uniform_tensor(const Shape& shape, Generator& gen, float bound = 1.0f) {
  Tensor t = Tensor::empty(shape);
  uniform_(t, -bound, bound, gen);
  return t;
}

Conv2dOptions conv3x3(int64_t in, int64_t out, int64_t padding, bool bias) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel_size = {3, 3};
  o.padding = {padding, padding};
  o.bias = bias;
  return o;
}

// Runs the Winograd kernels directly and compares them with the naive loops.
void compare_winograd(int64_t N, int64_t C, int64_t O, int64_t H, int64_t W, int64_t padding,
                      uint64_t seed) {
  const std::string what = "N=" + std::to_string(N) + " C=" + std::to_string(C) +
                           " O=" + std::to_string(O) + " H=" + std::to_string(H) +
                           " W=" + std::to_string(W) + " padding=" + std::to_string(padding);
  Generator gen(seed);
  const Conv2dOptions o = conv3x3(C, O, padding, true);
  const ConvGeometry g = make_conv_geometry(C, H, W, 3, 3, 1, 1, padding, padding, 1, 1);
  REQUIRE(winograd_applies(g, 1));
  Tensor x = uniform_tensor({N, C, H, W}, gen);
  Tensor w = uniform_tensor({O, C, 3, 3}, gen, 0.5f);
  Tensor b = uniform_tensor({O}, gen);
  Tensor y = Tensor::empty({N, O, g.out_h, g.out_w});
  std::vector<float> u(winograd_weights_size(C, O));
  winograd_transform_weights(C, O, w.data(), u.data());
  winograd_conv3x3_forward(g, N, O, x.data(), u.data(), b.data(), {}, y.data());
  // The transforms round differently from a direct sum: ~1e-6 relative to the output scale.
  cnn::testing::require_close(what + " forward", y, cnn::testing::naive_conv2d(x, w, b, o),
                              1e-4, 1e-4);

  Tensor gy = randn(y.shape(), gen);
  Tensor dx = Tensor::empty(x.shape()), dw = Tensor::empty(w.shape());
  winograd_conv3x3_backward(g, N, O, x.data(), u.data(), gy.data(), dx.data(), dw.data());
  auto expected = cnn::testing::naive_conv2d_backward(x, w, true, gy, o);
  cnn::testing::require_close(what + " grad input", dx, expected.input, 1e-4, 1e-4);
  cnn::testing::require_close(what + " grad weight", dw, expected.weight, 1e-4, 1e-3);

  // Only one of the two gradients asked for.
  Tensor dx_only = Tensor::empty(x.shape());
  winograd_conv3x3_backward(g, N, O, x.data(), u.data(), gy.data(), dx_only.data(), nullptr);
  REQUIRE(dx_only.to_vector() == dx.to_vector());
  Tensor dw_only = Tensor::empty(w.shape());
  winograd_conv3x3_backward(g, N, O, x.data(), u.data(), gy.data(), nullptr, dw_only.data());
  REQUIRE(dw_only.to_vector() == dw.to_vector());
}

}  // namespace

TEST_CASE("winograd convolution matches the naive one", "[conv2d][winograd]") {
  uint64_t seed = 1;
  for (int64_t padding : {0, 1, 2})
    for (auto [H, W] : std::vector<std::pair<int64_t, int64_t>>{{3, 3}, {5, 7}, {9, 4}, {8, 8}})
      compare_winograd(2, 8, 5, H, W, padding, seed++);
  compare_winograd(9, 19, 16, 13, 11, 1, seed++);  // odd channels, many thread items
  compare_winograd(3, 16, 1, 17, 18, 1, seed++);   // one output channel, 5x5 tiles
  compare_winograd(1, 8, 3, 40, 6, 1, seed++);     // a tall map: several blocks per image
}

TEST_CASE("winograd convolution gradients pass the finite-difference check",
          "[conv2d][winograd][grad]") {
  Generator gen(7);
  const Conv2dOptions o = conv3x3(8, 3, 1, true);
  REQUIRE(winograd_applies(make_conv_geometry(8, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1), 1));
  cnn::testing::check_gradients(
      "conv2d winograd", [o](auto& in) { return conv2d(in[0], in[1], in[2], o); },
      {uniform_tensor({2, 8, 5, 6}, gen).set_requires_grad(),
       uniform_tensor({3, 8, 3, 3}, gen, 0.5f).set_requires_grad(),
       uniform_tensor({3}, gen).set_requires_grad()});
}

TEST_CASE("winograd applies to 3x3 stride-1 ungrouped convolutions only", "[conv2d][winograd]") {
  auto geometry = [](int64_t C, int64_t k, int64_t stride, int64_t dilation) {
    return make_conv_geometry(C, 16, 16, k, k, stride, stride, 1, 1, dilation, dilation);
  };
  REQUIRE(winograd_applies(geometry(32, 3, 1, 1), 1));
  REQUIRE_FALSE(winograd_applies(geometry(32, 3, 1, 1), 2));
  REQUIRE_FALSE(winograd_applies(geometry(32, 3, 2, 1), 1));
  REQUIRE_FALSE(winograd_applies(geometry(32, 3, 1, 2), 1));
  REQUIRE_FALSE(winograd_applies(geometry(32, 5, 1, 1), 1));
  REQUIRE_FALSE(winograd_applies(geometry(3, 3, 1, 1), 1));  // too few input channels
}
