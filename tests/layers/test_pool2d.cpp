// Pooling: output sizes (ceil_mode as PyTorch), values and gradients against PyTorch,
// gradient checks, the registry and the errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <catch2/catch.hpp>

#include "core/autograd.h"
#include "core/random.h"
#include "layers/builder.h"
#include "layers/pool2d.h"
#include "layers/registry.h"
#include "tests/gradcheck.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::require_close;

namespace {

Pool2dOptions pool(std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                   std::pair<int64_t, int64_t> padding, bool ceil_mode,
                   bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel_size = kernel;
  o.stride = stride;
  o.padding = padding;
  o.ceil_mode = ceil_mode;
  o.count_include_pad = count_include_pad;
  return o;
}

// Distinct values (a shuffled range), so max pooling has one maximum per window and
// finite differences never cross a tie.
Tensor distinct_values(const Shape& shape, uint64_t seed) {
  const int64_t n = shape_numel(shape);
  std::vector<float> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<float>(i) * 0.25f - 2.0f;
  Generator gen(seed);
  std::shuffle(values.begin(), values.end(), gen.engine());
  return Tensor::from_vector(shape, values);
}

}  // namespace

TEST_CASE("pool output size follows PyTorch, ceil_mode's last-window rule included",
          "[pool2d]") {
  REQUIRE(pool_output_size(6, 2, 2, 0, false) == 3);
  REQUIRE(pool_output_size(7, 2, 2, 0, false) == 3);
  REQUIRE(pool_output_size(7, 2, 2, 0, true) == 4);
  REQUIRE(pool_output_size(7, 3, 2, 0, true) == 3);
  REQUIRE(pool_output_size(8, 3, 2, 0, true) == 4);
  // 5 + 2*1 padding, k=2, s=2: ceil gives 4 windows, but the 4th would start at 6, in the
  // right padding, so PyTorch drops it.
  REQUIRE(pool_output_size(5, 2, 2, 1, true) == 3);
  REQUIRE(pool_output_size(6, 3, 2, 1, true) == 4);
  REQUIRE(pool_output_size(32, 3, 2, 1, false) == 16);
}

TEST_CASE("maxpool2d agrees with PyTorch fixtures (ceil_mode, padding)", "[pool2d][pytorch]") {
  YAML::Node cases = cnn::testing::load_fixture("maxpool2d_cases.json");
  REQUIRE(cases.size() >= 5);
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const YAML::Node c = it->second;
    auto pair = [&](const char* key) {
      return std::pair<int64_t, int64_t>{c[key][0].as<int64_t>(), c[key][1].as<int64_t>()};
    };
    MaxPool2d layer(pool(pair("kernel_size"), pair("stride"), pair("padding"),
                         c["ceil_mode"].as<bool>()));
    Tensor x = cnn::testing::fixture_tensor(c["input"], true);
    Tensor expected = cnn::testing::fixture_tensor(c["output"]);
    REQUIRE(layer.output_shape(x.shape()) == expected.shape());
    Tensor y = layer.forward(x);
    require_close(name + " output", y, expected);
    y.backward(cnn::testing::fixture_tensor(c["grad_output"]));
    require_close(name + " grad input", x.grad(), cnn::testing::fixture_tensor(c["grad_input"]));
  }
}

TEST_CASE("avgpool2d divisors match PyTorch (padding, ceil_mode, count_include_pad)",
          "[pool2d]") {
  Tensor x = Tensor::arange(25).view({1, 1, 5, 5});
  // Values printed by torch.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True, ...).
  Tensor with_pad = avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, true, true));
  require_close("count_include_pad=true", with_pad,
                Tensor::from_vector({1, 1, 3, 3}, {1.3333333730697632f, 3.0f, 2.6666667461395264f,
                                                   7.0f, 12.0f, 9.0f, 8.0f, 13.0f,
                                                   9.333333015441895f}));
  Tensor without_pad = avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, true, false));
  require_close("count_include_pad=false", without_pad,
                Tensor::from_vector({1, 1, 3, 3},
                                    {3.0f, 4.5f, 6.0f, 10.5f, 12.0f, 13.5f, 18.0f, 19.5f, 21.0f}));
  // The ceil-mode window that hangs past the padding divides by its part inside the padding.
  Tensor y = Tensor::arange(30).view({1, 1, 5, 6});
  require_close("ceil window past the padding", avg_pool2d(y, pool({2, 2}, {2, 2}, {1, 1}, true)),
                Tensor::from_vector({1, 1, 3, 4}, {0.0f, 0.75f, 1.75f, 1.25f, 4.5f, 10.5f, 12.5f,
                                                   7.0f, 10.5f, 22.5f, 24.5f, 13.0f}));
  require_close("rectangular", avg_pool2d(y, pool({3, 2}, {2, 3}, {1, 0}, false)),
                Tensor::from_vector({1, 1, 3, 2}, {2.3333332538604736f, 4.333333492279053f, 12.5f,
                                                   15.5f, 14.333333015441895f,
                                                   16.33333396911621f}));
}

TEST_CASE("pooling gradients pass the finite-difference check", "[pool2d][grad]") {
  // Distinct values 0.25 apart and eps 0.01: a perturbation never changes the maximum.
  for (const Pool2dOptions& o : {pool({2, 2}, {2, 2}, {0, 0}, false),
                                 pool({3, 3}, {2, 2}, {1, 1}, true),
                                 pool({3, 2}, {1, 2}, {1, 0}, false)}) {
    Tensor x = distinct_values({2, 2, 5, 6}, 9).set_requires_grad();
    check_gradients("maxpool2d", [o](auto& in) { return max_pool2d(in[0], o); }, {x});
    check_gradients("avgpool2d", [o](auto& in) { return avg_pool2d(in[0], o); }, {x});
    Pool2dOptions exclude = o;
    exclude.count_include_pad = false;
    check_gradients("avgpool2d count_include_pad=false",
                    [exclude](auto& in) { return avg_pool2d(in[0], exclude); }, {x});
  }
  Tensor x = distinct_values({2, 3, 4, 5}, 3).set_requires_grad();
  check_gradients("global_avgpool2d", [](auto& in) { return global_avg_pool2d(in[0]); }, {x});
}

TEST_CASE("global_avgpool2d gives [N, C, 1, 1] means", "[pool2d]") {
  Tensor x = Tensor::arange(2 * 3 * 2 * 2).view({2, 3, 2, 2});
  GlobalAvgPool2d layer;
  Tensor y = layer.forward(x);
  REQUIRE(y.shape() == Shape{2, 3, 1, 1});
  REQUIRE(y.at({0, 0, 0, 0}) == Approx(1.5f));
  REQUIRE(y.at({1, 2, 0, 0}) == Approx(21.5f));
  REQUIRE(layer.output_shape({7, 64, 8, 8}) == Shape{7, 64, 1, 1});
}

TEST_CASE("pooling layers build from YAML with PyTorch's defaults", "[pool2d][registry]") {
  Generator gen(0);
  auto net = build_model(YAML::Load(R"(
layers:
  - maxpool2d: {kernel_size: 2}
  - maxpool2d: {kernel_size: 3, stride: 2, ceil_mode: true}
  - avgpool2d: {kernel_size: 2, padding: 1}
  - global_avgpool2d: {}
)"),
                         {1, 3, 31, 31}, gen);
  // 31 -> 15 (floor) -> 7 (ceil: (15-3+1)/2+1 = 7) -> 4 (pad 1) -> 1
  auto at = [&](size_t i) { return net->at(i); };
  REQUIRE(at(0)->output_shape({2, 3, 31, 31}) == Shape{2, 3, 15, 15});
  REQUIRE(at(1)->output_shape({2, 3, 15, 15}) == Shape{2, 3, 7, 7});
  REQUIRE(at(2)->output_shape({2, 3, 7, 7}) == Shape{2, 3, 4, 4});
  REQUIRE(net->output_shape({2, 3, 31, 31}) == Shape{2, 3, 1, 1});
  REQUIRE(at(0)->describe() == "maxpool2d(kernel_size=2, stride=2, padding=0, ceil_mode=false)");
  REQUIRE(at(2)->describe() ==
          "avgpool2d(kernel_size=2, stride=2, padding=1, ceil_mode=false, count_include_pad=true)");
  REQUIRE(net->forward(distinct_values({2, 3, 31, 31}, 1)).shape() == Shape{2, 3, 1, 1});
  REQUIRE(net->state_dict().empty());
}

TEST_CASE("pooling rejects bad inputs with the layer and the shapes", "[pool2d][errors]") {
  MaxPool2d max_layer(pool({2, 2}, {2, 2}, {0, 0}, false));
  REQUIRE_THROWS_WITH(max_layer.forward(Tensor::zeros({3, 8, 8})),
                      Catch::Contains("maxpool2d(kernel_size=2") && Catch::Contains("[3, 8, 8]"));
  REQUIRE_THROWS_WITH(max_layer.output_shape({1, 3, 1, 1}),
                      Catch::Contains("too small") && Catch::Contains("[1, 3, 1, 1]"));
  AvgPool2d avg_layer(pool({2, 2}, {2, 2}, {2, 2}, false));
  REQUIRE_THROWS_WITH(avg_layer.output_shape({1, 3, 8, 8}), Catch::Contains("half the kernel"));
  REQUIRE_THROWS_WITH(GlobalAvgPool2d().forward(Tensor::zeros({2, 10})),
                      Catch::Contains("global_avgpool2d") && Catch::Contains("[2, 10]"));
  Generator gen(0);
  REQUIRE_THROWS_WITH(build_model(YAML::Load("layers: [{maxpool2d: {stride: 2}}]"), {1, 3, 8, 8}, gen),
                      Catch::Contains("model.layers[0].maxpool2d.kernel_size"));
}

TEST_CASE("maxpool2d's 2x2 fast path matches the window-by-window definition",
          "[pool2d]") {
  // Values from a small set (ties: the first maximum in row-major order wins), one NaN
  // (it wins its window, as in PyTorch), and odd sizes (the last row and column unused).
  const int64_t N = 2, C = 3, H = 7, W = 9, OH = 3, OW = 4;
  Generator gen(11);
  Tensor x = Tensor::empty({N, C, H, W});
  uniform_(x, 0.0f, 4.0f, gen);
  float* px = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) px[i] = std::floor(px[i]);
  px[W + 3] = std::numeric_limits<float>::quiet_NaN();  // plane 0, row 1, column 3
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, pool({2, 2}, {2, 2}, {0, 0}, false));
  REQUIRE(y.shape() == Shape{N, C, OH, OW});
  Tensor gy = randn(y.shape(), gen);
  y.backward(gy);
  std::vector<float> expected_dx(x.numel(), 0.0f);
  for (int64_t plane = 0; plane < N * C; ++plane)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t best = (plane * H + 2 * oh) * W + 2 * ow;
        for (int64_t h = 2 * oh; h < 2 * oh + 2; ++h)
          for (int64_t w = 2 * ow; w < 2 * ow + 2; ++w) {
            const int64_t i = (plane * H + h) * W + w;
            if (px[i] > px[best] || (std::isnan(px[i]) && !std::isnan(px[best]))) best = i;
          }
        const int64_t k = (plane * OH + oh) * OW + ow;
        if (std::isnan(px[best])) {
          REQUIRE(std::isnan(y.data()[k]));
        } else {
          REQUIRE(y.data()[k] == px[best]);
        }
        expected_dx[best] += gy.data()[k];
      }
  REQUIRE(x.grad().to_vector() == expected_dx);

  // Without the tape (evaluation) the path that keeps no indices gives the same values.
  NoGradGuard no_grad;
  const std::vector<float> evaluated = max_pool2d(x, pool({2, 2}, {2, 2}, {0, 0}, false)).to_vector();
  const std::vector<float> recorded = y.to_vector();
  REQUIRE(evaluated.size() == recorded.size());
  for (size_t i = 0; i < evaluated.size(); ++i)
    REQUIRE((evaluated[i] == recorded[i] || (std::isnan(evaluated[i]) && std::isnan(recorded[i]))));
}
