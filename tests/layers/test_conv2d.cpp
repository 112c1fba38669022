// Conv2d: the fast im2col + sgemm path against the naive convolution over a grid of
// settings (forward and all three gradients), a gradient check, PyTorch fixtures,
// initialisation, the registry (bias: auto) and the errors.
#include <catch2/catch.hpp>

#include "core/autograd.h"
#include "core/random.h"
#include "layers/builder.h"
#include "layers/conv2d.h"
#include "layers/registry.h"
#include "tests/gradcheck.h"
#include "tests/layers/naive_conv.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::require_close;

namespace {

Tensor uniform_tensor(const Shape& shape, Generator& gen, float bound = 1.0f) {
  Tensor t = Tensor::empty(shape);
  uniform_(t, -bound, bound, gen);
  return t;
}

// Runs the fast conv forward and backward (seeded with a random gy) and compares
// everything with the naive convolution.
void compare_with_naive(const std::string& what, int64_t N, int64_t H, int64_t W,
                        const Conv2dOptions& o, uint64_t seed) {
  Generator gen(seed);
  Tensor x = uniform_tensor({N, o.in_channels, H, W}, gen).set_requires_grad();
  Tensor w = uniform_tensor({o.out_channels, o.in_channels / o.groups, o.kernel_size.first,
                             o.kernel_size.second},
                            gen, 0.5f)
                 .set_requires_grad();
  Tensor b = o.bias ? uniform_tensor({o.out_channels}, gen).set_requires_grad() : Tensor();
  Tensor y = conv2d(x, w, b, o);
  Tensor expected = cnn::testing::naive_conv2d(x, w, b, o);
  require_close(what + " forward", y, expected, 1e-5, 1e-5);

  Tensor gy = randn(y.shape(), gen);
  y.backward(gy);
  auto grads = cnn::testing::naive_conv2d_backward(x, w, o.bias, gy, o);
  require_close(what + " grad input", x.grad(), grads.input, 1e-5, 1e-5);
  require_close(what + " grad weight", w.grad(), grads.weight, 1e-5, 1e-5);
  if (o.bias) require_close(what + " grad bias", b.grad(), grads.bias, 1e-5, 1e-5);
}

Conv2dOptions options(int64_t in, int64_t out, std::pair<int64_t, int64_t> kernel,
                      int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1,
                      int64_t groups = 1, bool bias = true) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel_size = kernel;
  o.stride = {stride, stride};
  o.padding = {padding, padding};
  o.dilation = {dilation, dilation};
  o.groups = groups;
  o.bias = bias;
  return o;
}

}  // namespace

TEST_CASE("conv2d matches the naive convolution over a grid of settings", "[conv2d]") {
  const std::vector<std::pair<int64_t, int64_t>> sizes{{7, 5}, {6, 9}};
  const std::vector<std::pair<int64_t, int64_t>> kernels{{3, 3}, {1, 1}, {2, 3}};
  int cases = 0;
  for (auto [H, W] : sizes)
    for (auto kernel : kernels)
      for (int64_t stride : {1, 2})
        for (int64_t padding : {0, 1, 2})
          for (int64_t dilation : {1, 2})
            for (int64_t groups : {1, 2, 4}) {
              Conv2dOptions o = options(4, 8, kernel, stride, padding, dilation, groups,
                                        (cases % 2) == 0);
              if (dilation * (kernel.first - 1) + 1 > H + 2 * padding) continue;
              std::string what = "H=" + std::to_string(H) + " W=" + std::to_string(W) +
                                 " kernel=" + std::to_string(kernel.first) + "x" +
                                 std::to_string(kernel.second) + " stride=" +
                                 std::to_string(stride) + " padding=" + std::to_string(padding) +
                                 " dilation=" + std::to_string(dilation) + " groups=" +
                                 std::to_string(groups) + (o.bias ? " bias" : " no bias");
              compare_with_naive(what, 2, H, W, o, 100 + cases);
              ++cases;
            }
  REQUIRE(cases > 150);
}

TEST_CASE("conv2d tiling: chunks of samples, single samples, bands of output rows",
          "[conv2d]") {
  // 33x32 output pixels: one sample per sgemm (no copy through a product buffer).
  compare_with_naive("wide maps", 3, 33, 32, options(3, 5, {3, 3}, 1, 1), 1);
  // 10x10 = 100 pixels: several samples per chunk; a batch of 7 leaves a remainder.
  compare_with_naive("chunk remainder", 7, 10, 10, options(3, 4, {3, 3}, 1, 1, 1, 1, false), 2);
  // Columns of 384 x 992 floats per sample: one sample is cut into bands of output rows
  // (forward writes each band into the output, backward adds each band into dx). A 3x4
  // kernel keeps this on the im2col path (3x3 stride 1 goes to Winograd).
  compare_with_naive("bands", 2, 32, 32, options(32, 3, {3, 4}, 1, 1), 4);
  compare_with_naive("bands, strided", 3, 63, 64, options(32, 2, {3, 3}, 2, 1), 5);
  compare_with_naive("bands, dilated and grouped", 2, 36, 34,
                     options(32, 4, {3, 3}, 1, 2, 2, 2), 6);
  // Depthwise with a channel multiplier of 2 and a rectangular stride.
  Conv2dOptions o = options(3, 6, {3, 3}, 1, 1, 1, 3);
  o.stride = {2, 1};
  compare_with_naive("depthwise multiplier 2", 4, 9, 8, o, 3);
}

TEST_CASE("conv2d gradients repeat bit for bit", "[conv2d]") {
  // The batch-parallel backward adds per-thread weight-gradient sums in a fixed order.
  Generator gen(8);
  Conv2dOptions o = options(5, 7, {3, 3}, 1, 1);
  Tensor x = uniform_tensor({9, 5, 12, 12}, gen);
  Tensor w = uniform_tensor({7, 5, 3, 3}, gen).set_requires_grad();
  Tensor gy = randn({9, 7, 12, 12}, gen);
  std::vector<std::vector<float>> runs;
  for (int run = 0; run < 3; ++run) {
    w.zero_grad();
    conv2d(x, w, Tensor(), o).backward(gy);
    runs.push_back(w.grad().to_vector());
  }
  REQUIRE(runs[0] == runs[1]);
  REQUIRE(runs[0] == runs[2]);
}

TEST_CASE("conv2d gradients pass the finite-difference check", "[conv2d][grad]") {
  Generator gen(5);
  Conv2dOptions o = options(4, 4, {3, 3}, 2, 1, 1, 2, true);
  Tensor x = uniform_tensor({2, 4, 5, 5}, gen).set_requires_grad();
  Tensor w = uniform_tensor({4, 2, 3, 3}, gen, 0.5f).set_requires_grad();
  Tensor b = uniform_tensor({4}, gen).set_requires_grad();
  check_gradients("conv2d", [o](auto& in) { return conv2d(in[0], in[1], in[2], o); },
                  {x, w, b});
  Conv2dOptions dilated = options(2, 3, {2, 3}, 1, 2, 2, 1, false);
  check_gradients("conv2d dilated",
                  [dilated](auto& in) { return conv2d(in[0], in[1], Tensor(), dilated); },
                  {uniform_tensor({1, 2, 4, 6}, gen).set_requires_grad(),
                   uniform_tensor({3, 2, 2, 3}, gen).set_requires_grad()});
}

TEST_CASE("conv2d agrees with PyTorch fixtures", "[conv2d][pytorch]") {
  YAML::Node cases = cnn::testing::load_fixture("conv2d_cases.json");
  REQUIRE(cases.size() >= 5);
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const YAML::Node c = it->second;
    Tensor x = cnn::testing::fixture_tensor(c["input"], true);
    Tensor w = cnn::testing::fixture_tensor(c["weight"], true);
    const bool has_bias = c["bias"].as<bool>();
    Tensor b = has_bias ? cnn::testing::fixture_tensor(c["bias_value"], true) : Tensor();
    Conv2dOptions o;
    o.in_channels = x.size(1);
    o.out_channels = c["out_channels"].as<int64_t>();
    auto pair = [&](const char* key) {
      return std::pair<int64_t, int64_t>{c[key][0].as<int64_t>(), c[key][1].as<int64_t>()};
    };
    o.kernel_size = pair("kernel_size");
    o.stride = pair("stride");
    o.padding = pair("padding");
    o.dilation = pair("dilation");
    o.groups = c["groups"].as<int64_t>();
    o.bias = has_bias;
    Tensor y = conv2d(x, w, b, o);
    require_close(name + " output", y, cnn::testing::fixture_tensor(c["output"]));
    y.backward(cnn::testing::fixture_tensor(c["grad_output"]));
    require_close(name + " grad input", x.grad(), cnn::testing::fixture_tensor(c["grad_input"]));
    require_close(name + " grad weight", w.grad(),
                  cnn::testing::fixture_tensor(c["grad_weight"]));
    if (has_bias)
      require_close(name + " grad bias", b.grad(), cnn::testing::fixture_tensor(c["grad_bias"]));
  }
}

TEST_CASE("conv2d initialises like PyTorch and names its tensors like PyTorch", "[conv2d]") {
  Generator gen(42), same(42);
  Conv2dOptions o = options(16, 32, {3, 3});
  Conv2d conv(o, gen), twin(o, same);
  const float bound = 1.0f / std::sqrt(16.0f * 9.0f);
  float largest = 0.0f;
  for (float v : conv.weight().to_vector()) largest = std::max(largest, std::fabs(v));
  REQUIRE(largest <= bound);
  REQUIRE(largest > 0.95f * bound);  // 4608 draws fill the range
  for (float v : conv.bias().to_vector()) REQUIRE(std::fabs(v) <= bound);
  REQUIRE(conv.weight().to_vector() == twin.weight().to_vector());
  REQUIRE(conv.bias().to_vector() == twin.bias().to_vector());

  auto state = conv.state_dict();
  REQUIRE(state.size() == 2);
  REQUIRE(state[0].first == "weight");
  REQUIRE(state[0].second.shape() == Shape{32, 16, 3, 3});
  REQUIRE(state[1].first == "bias");
  REQUIRE(conv.describe() == "conv2d(16->32, kernel_size=3, stride=1, padding=0, bias=true)");
  Conv2dOptions grouped = options(4, 8, {3, 1}, 2, 1, 2, 2, false);
  REQUIRE(Conv2d(grouped, gen).describe() ==
          "conv2d(4->8, kernel_size=[3, 1], stride=2, padding=1, dilation=2, groups=2, "
          "bias=false)");
}

TEST_CASE("conv2d set_bias adds a bias that shows in the state dict and the output",
          "[conv2d]") {
  Generator gen(1);
  Conv2d conv(options(2, 3, {1, 1}, 1, 0, 1, 1, false), gen);
  REQUIRE_FALSE(conv.bias().defined());
  REQUIRE(conv.state_dict().size() == 1);
  Tensor x = uniform_tensor({1, 2, 2, 2}, gen);
  Tensor before = conv.forward(x);
  conv.set_bias(Tensor::from_vector({3}, {1.0f, 2.0f, 3.0f}));
  REQUIRE(conv.options().bias);
  REQUIRE(conv.state_dict().size() == 2);
  REQUIRE(conv.state_dict()[1].first == "bias");
  REQUIRE(conv.bias().requires_grad());
  Tensor after = conv.forward(x);
  REQUIRE(after.at({0, 2, 1, 1}) == Approx(before.at({0, 2, 1, 1}) + 3.0f));
  REQUIRE_THROWS_WITH(conv.set_bias(Tensor::zeros({4})), Catch::Contains("[3]"));
}

TEST_CASE("conv2d rejects bad inputs and settings with the layer and the shapes", "[conv2d][errors]") {
  Generator gen(0);
  Conv2d conv(options(3, 8, {3, 3}, 1, 1), gen);
  REQUIRE_THROWS_WITH(conv.forward(Tensor::zeros({3, 8, 8})),
                      Catch::Contains("conv2d(3->8") && Catch::Contains("4-d") &&
                          Catch::Contains("[3, 8, 8]"));
  REQUIRE_THROWS_WITH(conv.forward(Tensor::zeros({1, 5, 8, 8})),
                      Catch::Contains("expected 3 input channels") &&
                          Catch::Contains("[1, 5, 8, 8]"));
  Conv2d big(options(3, 8, {5, 5}), gen);
  REQUIRE_THROWS_WITH(big.output_shape({1, 3, 4, 4}),
                      Catch::Contains("larger than the padded input") &&
                          Catch::Contains("[1, 3, 4, 4]"));
  REQUIRE_THROWS_WITH(Conv2d(options(4, 6, {3, 3}, 1, 0, 1, 4), gen),
                      Catch::Contains("groups=4") && Catch::Contains("in_channels (4)") &&
                          Catch::Contains("out_channels (6)"));
  REQUIRE_THROWS_WITH(Conv2d(options(3, 8, {3, 3}, 0), gen), Catch::Contains("stride"));
}

TEST_CASE("conv2d builds from YAML: shapes, bias auto, key errors", "[conv2d][registry]") {
  const LayerInfo* info = find_layer("conv2d");
  REQUIRE(info);
  REQUIRE_FALSE(info->is_normalization);
  Generator gen(3);
  BuildContext context;
  context.input_shape = {1, 3, 32, 32};
  context.generator = &gen;
  YAML::Node args = YAML::Load("{out_channels: 16, kernel_size: 3, padding: 1}");

  context.next_is_normalization = true;  // auto: a normalization follows -> no bias
  auto make = [&](const YAML::Node& node) {
    return info->make(LayerArgs(node, "test.conv2d", info->keys), context);
  };
  ModulePtr no_bias = make(args);
  REQUIRE(no_bias->state_dict().size() == 1);
  REQUIRE(no_bias->describe() == "conv2d(3->16, kernel_size=3, stride=1, padding=1, bias=false)");
  context.next_is_normalization = false;  // auto: nothing follows -> bias
  REQUIRE(make(args)->state_dict().size() == 2);
  context.next_is_normalization = true;  // an explicit true wins over auto's rule
  YAML::Node forced = YAML::Load("{out_channels: 16, kernel_size: 3, bias: true}");
  REQUIRE(make(forced)->state_dict().size() == 2);
  YAML::Node bad = YAML::Load("{out_channels: 16, kernel_size: 3, bias: maybe}");
  REQUIRE_THROWS_WITH(
      make(bad), Catch::Contains("test.conv2d.bias") && Catch::Contains("auto, true or false"));

  YAML::Node model = YAML::Load(R"(
layers:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - conv2d: {out_channels: 12, kernel_size: [3, 1], stride: 2, bias: false}
  - conv2d: {out_channels: 12, kernel_size: 3, groups: 12, padding: 1}
)");
  auto net = build_model(model, {1, 3, 32, 32}, gen);
  REQUIRE(net->output_shape({4, 3, 32, 32}) == Shape{4, 12, 15, 16});
  REQUIRE(net->forward(Tensor::zeros({2, 3, 32, 32})).shape() == Shape{2, 12, 15, 16});
  auto names = net->state_dict();
  REQUIRE(names.size() == 5);  // 0.weight 0.bias 1.weight 2.weight 2.bias
  REQUIRE(names[2].first == "1.weight");
  REQUIRE(names[3].second.shape() == Shape{12, 1, 3, 3});

  REQUIRE_THROWS_WITH(
      build_model(YAML::Load("layers: [{conv2d: {out_channels: 8, kernel_size: 3, groups: 2}}]"),
                  {1, 3, 8, 8}, gen),
      Catch::Contains("model.layers[0]") && Catch::Contains("groups=2"));
  REQUIRE_THROWS_WITH(
      build_model(YAML::Load("layers: [{conv2d: {kernel_size: 3}}]"), {1, 3, 8, 8}, gen),
      Catch::Contains("model.layers[0].conv2d.out_channels") && Catch::Contains("required"));
  REQUIRE_THROWS_WITH(
      build_model(YAML::Load("layers: [{conv2d: {out_channels: 4, kernel_size: 9}}]"),
                  {1, 3, 8, 8}, gen),
      Catch::Contains("model.layers[0]") && Catch::Contains("[1, 3, 8, 8]"));
}
