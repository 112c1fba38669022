// Residual block: shortcut selection, names, values, gradient check, and a whole
// ResNet-20 for CIFAR written in YAML.
#include <algorithm>
#include <catch2/catch.hpp>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/builder.h"
#include "layers/conv2d.h"
#include "layers/fusion.h"
#include "layers/residual.h"
#include "tests/gradcheck.h"
#include "tests/layers/tensor_compare.h"
#include "tests/omp_threads.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::require_close;

namespace {

Tensor random_input(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::empty(shape);
  uniform_(x, -1.0f, 1.0f, gen);
  return x.set_requires_grad();
}

std::shared_ptr<Sequential> build(const std::string& yaml, const Shape& input, uint64_t seed = 0) {
  Generator gen(seed);
  return build_model(YAML::Load(yaml), input, gen);
}

std::vector<std::string> names(const Module& module) {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : module.state_dict()) out.push_back(name);
  return out;
}

// Builds the one-block net of `yaml` and requires its evaluation forward (fuse_for_evaluation,
// under NoGradGuard) to equal the block's layers run one by one with the tape on (unfused).
// Image by image, sgemm (im2col paths) may add in another order: rounding-level tolerance.
void require_evaluation_matches_layers(const std::string& yaml, const Shape& input,
                                       uint64_t seed) {
  auto net = build(yaml, input, seed);
  Tensor x = random_input(input, seed).detach();
  auto& block = dynamic_cast<Residual&>(*net->at(0));
  net->eval();
  const Tensor separate =
      add_relu(block.body().forward(x), block.shortcut() ? block.shortcut()->forward(x) : x);
  REQUIRE(fuse_for_evaluation(*net) >= 1);  // the block's step at least
  NoGradGuard no_grad;
  require_close("evaluation of " + block.describe(), net->forward(x), separate, 1e-5, 1e-5);
}

}  // namespace

TEST_CASE("residual with a shape-keeping body uses the identity shortcut", "[residual]") {
  auto net = build(R"(
norm: none
layers:
  - residual:
      body:
        - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
        - relu: {}
        - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
)",
                   {1, 4, 6, 6});
  auto& block = dynamic_cast<Residual&>(*net->at(0));
  REQUIRE(block.shortcut() == nullptr);
  REQUIRE(block.relu_after());
  REQUIRE(names(*net) ==
          std::vector<std::string>{"0.body.0.weight", "0.body.0.bias", "0.body.2.weight",
                                   "0.body.2.bias"});
  REQUIRE(block.describe() == "residual(body: 3 layers, shortcut: identity, activation: relu)");
  // y = relu(body(x) + x)
  Tensor x = random_input({2, 4, 6, 6}, 1);
  Tensor expected = relu(add(block.body().forward(x), x));
  require_close("identity block", block.forward(x), expected, 0.0, 0.0);
}

TEST_CASE("residual picks a strided 1x1 conv + the model norm when the body changes shape",
          "[residual]") {
  const std::string body = R"(
      body:
        - conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
        - norm: {})";
  auto with_bn = build("norm: batch\nlayers:\n  - residual:" + body, {1, 4, 7, 7});
  auto& block = dynamic_cast<Residual&>(*with_bn->at(0));
  REQUIRE(block.shortcut() != nullptr);
  auto& projection = dynamic_cast<Sequential&>(*block.shortcut());
  REQUIRE(projection.size() == 2);
  auto& conv = dynamic_cast<Conv2d&>(*projection.at(0));
  REQUIRE(conv.options().kernel_size == std::pair<int64_t, int64_t>{1, 1});
  REQUIRE(conv.options().stride == std::pair<int64_t, int64_t>{2, 2});  // 7 -> 4
  REQUIRE(conv.options().out_channels == 8);
  REQUIRE_FALSE(conv.options().bias);  // bias: auto before a normalization
  REQUIRE(projection.at(1)->type() == "batchnorm2d");
  REQUIRE(with_bn->output_shape({3, 4, 7, 7}) == Shape{3, 8, 4, 4});
  auto all = names(*with_bn);
  REQUIRE(std::find(all.begin(), all.end(), "0.shortcut.0.weight") != all.end());
  REQUIRE(std::find(all.begin(), all.end(), "0.shortcut.1.running_mean") != all.end());
  REQUIRE(std::find(all.begin(), all.end(), "0.shortcut.0.bias") == all.end());
  REQUIRE(with_bn->forward(random_input({2, 4, 7, 7}, 2)).shape() == Shape{2, 8, 4, 4});

  // norm: none -> the conv alone, with its bias.
  auto plain = build("norm: none\nlayers:\n  - residual:" + body, {1, 4, 7, 7});
  auto& plain_block = dynamic_cast<Residual&>(*plain->at(0));
  auto& plain_projection = dynamic_cast<Sequential&>(*plain_block.shortcut());
  REQUIRE(plain_projection.size() == 1);
  REQUIRE(dynamic_cast<Conv2d&>(*plain_projection.at(0)).options().bias);
}

TEST_CASE("residual shortcut and activation keys", "[residual]") {
  const std::string keep_shape = R"(
      body:
        - conv2d: {out_channels: 4, kernel_size: 3, padding: 1})";
  auto forced = build("norm: none\nlayers:\n  - residual:\n      shortcut: conv\n      activation: "
                      "none" + keep_shape,
                      {1, 4, 5, 5});
  auto& block = dynamic_cast<Residual&>(*forced->at(0));
  REQUIRE(block.shortcut() != nullptr);
  REQUIRE_FALSE(block.relu_after());
  auto& conv = dynamic_cast<Conv2d&>(*dynamic_cast<Sequential&>(*block.shortcut()).at(0));
  REQUIRE(conv.options().stride == std::pair<int64_t, int64_t>{1, 1});
  // activation: none -> the plain sum, negative values kept.
  Tensor x = random_input({1, 4, 5, 5}, 3);
  Tensor expected = add(block.body().forward(x), block.shortcut()->forward(x));
  require_close("no activation", block.forward(x), expected, 0.0, 0.0);

  const std::string shrink = R"(
      body:
        - conv2d: {out_channels: 8, kernel_size: 3, stride: 2})";
  REQUIRE_THROWS_WITH(build("layers:\n  - residual:\n      shortcut: identity" + shrink, {1, 4, 9, 9}),
                      Catch::Contains("model.layers[0].residual.shortcut") &&
                          Catch::Contains("[1, 4, 9, 9]") && Catch::Contains("[1, 8, 4, 4]"));
  REQUIRE_THROWS_WITH(build("layers:\n  - residual:\n      shortcut: sometimes" + keep_shape,
                            {1, 4, 5, 5}),
                      Catch::Contains("auto, identity or conv"));
  REQUIRE_THROWS_WITH(build("layers:\n  - residual:\n      activation: gelu" + keep_shape,
                            {1, 4, 5, 5}),
                      Catch::Contains("relu or none"));
  REQUIRE_THROWS_WITH(build("layers:\n  - residual: {shortcut: conv}", {1, 4, 5, 5}),
                      Catch::Contains("model.layers[0].residual.body"));
  // Errors inside the body name their path below the block.
  REQUIRE_THROWS_WITH(build("layers:\n  - residual:\n      body: [{conv2d: {kernel_size: 3}}]",
                            {1, 4, 5, 5}),
                      Catch::Contains("model.layers[0].residual.body[0].conv2d.out_channels"));
}

TEST_CASE("residual block gradients pass the finite-difference check", "[residual][grad]") {
  // tanh in the body and no activation after the sum keep every path smooth.
  auto net = build(R"(
norm: none
layers:
  - residual:
      activation: none
      body:
        - conv2d: {out_channels: 6, kernel_size: 3, stride: 2, padding: 1}
        - tanh: {}
        - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}
)",
                   {1, 3, 5, 5}, 7);
  std::vector<Tensor> inputs{random_input({2, 3, 5, 5}, 4)};
  for (auto& [name, parameter] : net->named_parameters()) inputs.push_back(parameter);
  REQUIRE(inputs.size() == 7);  // x, two body convs (w, b), the shortcut conv (w, b)
  check_gradients("residual block", [net](auto& in) { return net->forward(in[0]); }, inputs);
}

TEST_CASE("evaluation adds the shortcut inside the body's last conv with the same result",
          "[residual][conv2d]") {
  // Bodies ending in a Winograd conv (identity or projection shortcut, a trailing identity
  // as BN folding leaves) take the fused path; a 5x5 last conv (im2col) and a body ending
  // in a relu fall back. Fused or not, the same arithmetic.
  const std::string header = "norm: none\nlayers:\n  - residual:\n      body:\n";
  const std::string conv = "        - conv2d: {out_channels: ";
  const std::string bodies[] = {
      header + conv + "8, kernel_size: 3, padding: 1}\n        - relu: {}\n" + conv +
          "8, kernel_size: 3, padding: 1}\n        - identity: {}\n",
      header + conv + "19, kernel_size: 3, stride: 2, padding: 1}\n        - relu: {}\n" +
          conv + "19, kernel_size: 3, padding: 1}\n",
      header + conv + "8, kernel_size: 5, padding: 2}\n",
      header + conv + "8, kernel_size: 3, padding: 1}\n        - relu: {}\n"};
  uint64_t seed = 20;
  for (const std::string& body : bodies) {
    INFO(body);
    require_evaluation_matches_layers(body, {3, 8, 7, 9}, seed++);
  }
}

TEST_CASE("evaluation runs a basic block one image at a time with the layers' result",
          "[residual][conv2d]") {
  // Basic blocks as BN folding leaves them (identities in the body), run image by image on
  // three threads over five images: the first conv on each of its paths (Winograd with 8
  // input channels, direct with 3, im2col for a 5x5 stride 2 with 16), the shortcut an
  // identity or a 1x1 projection. The second conv is Winograd (it adds the shortcut).
  struct Case {
    int64_t channels, kernel, stride;
  };
  cnn::testing::ScopedOmpThreads threads(3);
  uint64_t seed = 30;
  for (const Case c : {Case{8, 3, 1}, Case{3, 3, 1}, Case{8, 3, 2}, Case{16, 5, 2}}) {
    INFO("channels " << c.channels << " kernel " << c.kernel << " stride " << c.stride);
    const int64_t out_channels = c.stride == 1 ? c.channels : 12;
    const std::string yaml = R"(
norm: none
layers:
  - residual:
      body:
        - conv2d: {out_channels: )" + std::to_string(out_channels) +
                             ", kernel_size: " + std::to_string(c.kernel) +
                             ", stride: " + std::to_string(c.stride) +
                             ", padding: " + std::to_string(c.kernel / 2) + R"(}
        - identity: {}
        - relu: {}
        - conv2d: {out_channels: )" + std::to_string(out_channels) + R"(, kernel_size: 3, padding: 1}
        - identity: {}
)";
    require_evaluation_matches_layers(yaml, {5, c.channels, 9, 34}, seed++);
  }
}

TEST_CASE("a ResNet-20 for CIFAR-10 is written in YAML", "[residual][registry]") {
  // He et al. 2016, section 4.2: 3 stages of 3 blocks (16, 32, 64 channels), projection
  // shortcuts where the shape changes. 272,474 parameters, as the same net in PyTorch.
  const char* config = R"(
norm: batch
layers:
  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
  - norm: {}
  - relu: {}
  - residual: &block16
      body:
        - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
        - norm: {}
  - residual: *block16
  - residual: *block16
  - residual:
      body:
        - conv2d: {out_channels: 32, kernel_size: 3, stride: 2, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}
        - norm: {}
  - residual: &block32
      body:
        - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}
        - norm: {}
  - residual: *block32
  - residual:
      body:
        - conv2d: {out_channels: 64, kernel_size: 3, stride: 2, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 64, kernel_size: 3, padding: 1}
        - norm: {}
  - residual: &block64
      body:
        - conv2d: {out_channels: 64, kernel_size: 3, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 64, kernel_size: 3, padding: 1}
        - norm: {}
  - residual: *block64
  - global_avgpool2d: {}
  - flatten: {}
  - linear: {out_features: 10}
)";
  auto net = build(config, {1, 3, 32, 32}, 1);
  REQUIRE(net->output_shape({8, 3, 32, 32}) == Shape{8, 10});
  REQUIRE(net->parameter_count() == 272474);
  int projections = 0;
  for (size_t i = 0; i < net->size(); ++i)
    if (auto* block = dynamic_cast<Residual*>(net->at(i).get())) projections += block->shortcut() != nullptr;
  REQUIRE(projections == 2);
  auto all = names(*net);
  REQUIRE(std::find(all.begin(), all.end(), "6.shortcut.0.weight") != all.end());
  REQUIRE(std::find(all.begin(), all.end(), "3.body.0.weight") != all.end());
  REQUIRE(std::find(all.begin(), all.end(), "3.body.0.bias") == all.end());
  Tensor x = random_input({2, 3, 32, 32}, 5);
  Tensor y = net->forward(x);
  REQUIRE(y.shape() == Shape{2, 10});
  sum(y).backward();
  REQUIRE(x.grad().defined());
  for (auto& [name, parameter] : net->named_parameters()) {
    INFO(name);
    REQUIRE(parameter.grad().defined());
  }
}
