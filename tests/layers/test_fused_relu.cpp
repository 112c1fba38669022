// A ReLU absorbed by the layer before it (the fusion passes run batchnorm or conv2d followed
// by relu, identities allowed in between, as one fused op): the same values and gradients as
// the layers one after the other, for BN in training and eval mode and for conv2d on both
// of its paths (im2col and Winograd), finite-difference checks through the fused ops, and
// conv2d+relu+maxpool2d written as one pooled map in evaluation (and the fallback).
#include <catch2/catch.hpp>
#include <tuple>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/activations.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/fusion.h"
#include "layers/identity.h"
#include "layers/pool2d.h"
#include "layers/sequential.h"
#include "tests/gradcheck.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;

namespace {

std::shared_ptr<BatchNorm2d> random_batchnorm(int64_t channels, Generator& gen) {
  BatchNormOptions options;
  options.num_features = channels;
  auto bn = std::make_shared<BatchNorm2d>(options);
  uniform_(bn->weight(), 0.5f, 1.5f, gen);
  uniform_(bn->bias(), -0.5f, 0.5f, gen);
  return bn;
}

// Runs x through a [batchnorm2d, relu] Sequential, fused (fuse_for_training) or not (no
// pass: an observer sees both layers run), and returns y and every gradient.
std::vector<Tensor> run(bool fused, bool training, const Tensor& input, uint64_t seed) {
  Generator gen(seed);
  auto bn = random_batchnorm(input.size(1), gen);
  Sequential model;
  model.append(bn);
  model.append(std::make_shared<Activation>(Activation::Kind::ReLU));
  model.train(training);
  int observed = 0;
  if (fused) REQUIRE(fuse_for_training(model) == 1);
  if (!fused) model.set_observer([&](const std::string&, const Module&, const Tensor&) { ++observed; });
  Tensor x = input.detach().clone().set_requires_grad();
  Tensor y = model.forward(x);
  REQUIRE(observed == (fused ? 0 : 2));
  Tensor gy = randn(y.shape(), gen);
  y.backward(gy);
  return {y, x.grad(), bn->weight().grad(), bn->bias().grad(), bn->running_mean().clone(),
          bn->running_var().clone()};
}

}  // namespace

TEST_CASE("fused batchnorm+relu equals batchnorm then relu", "[batchnorm][relu]") {
  Generator gen(3);
  Tensor x = randn({4, 3, 5, 6}, gen);
  for (bool training : {true, false}) {
    INFO((training ? "training" : "eval"));
    const auto fused = run(true, training, x, 9), separate = run(false, training, x, 9);
    const char* names[] = {"output", "grad input", "grad weight", "grad bias", "running mean",
                           "running var"};
    for (size_t i = 0; i < fused.size(); ++i)
      cnn::testing::require_close(names[i], fused[i], separate[i], 1e-5, 1e-6);
  }
}

TEST_CASE("fused batchnorm+relu gradients pass the finite-difference check",
          "[batchnorm][relu][grad]") {
  Generator gen(4);
  auto bn = random_batchnorm(2, gen);
  // Eight well-separated values per channel: after normalisation none sits within the
  // check's step of 0, where ReLU has its kink.
  Tensor x = Tensor::empty({2, 2, 2, 2});
  const float values[] = {-1.7f, -0.9f, -0.2f, 0.4f, 1.1f, 1.9f, -1.3f, 0.8f};
  for (int64_t i = 0; i < 16; ++i) x.data()[i] = values[(i * 3 + i / 8) % 8];
  x.set_requires_grad();
  cnn::testing::check_gradients(
      "batchnorm2d+relu", [&](const std::vector<Tensor>& in) { return bn->forward_relu(in[0]); },
      {x, bn->weight(), bn->bias()});
}

namespace {

// y and the gradients of [conv2d, identity, relu], fused (fuse_for_training) or not.
std::vector<Tensor> run_conv(bool fused, const Conv2dOptions& o, const Tensor& input) {
  Generator gen(17);
  auto conv = std::make_shared<Conv2d>(o, gen);
  Sequential model;
  model.append(conv);
  model.append(std::make_shared<Identity>());
  model.append(std::make_shared<Activation>(Activation::Kind::ReLU));
  int observed = 0;
  if (fused) REQUIRE(fuse_for_training(model) == 1);
  if (!fused) model.set_observer([&](const std::string&, const Module&, const Tensor&) { ++observed; });
  Tensor x = input.detach().clone().set_requires_grad();
  Tensor y = model.forward(x);
  REQUIRE(observed == (fused ? 0 : 3));
  y.backward(randn(y.shape(), gen));
  return {y, x.grad(), conv->weight().grad(), conv->bias().grad()};
}

}  // namespace

TEST_CASE("fused conv2d+relu equals conv2d then relu on both conv paths", "[conv2d][relu]") {
  Generator gen(5);
  for (int64_t channels : {3, 8}) {  // 3: im2col; 8 input channels, 3x3, stride 1: Winograd
    INFO("input channels " << channels);
    Conv2dOptions o;
    o.in_channels = channels;
    o.out_channels = 5;
    o.kernel_size = {3, 3};
    o.padding = {1, 1};
    Tensor x = randn({2, channels, 6, 7}, gen);
    const auto fused = run_conv(true, o, x), separate = run_conv(false, o, x);
    const char* names[] = {"output", "grad input", "grad weight", "grad bias"};
    for (size_t i = 0; i < fused.size(); ++i)
      cnn::testing::require_close(names[i], fused[i], separate[i], 1e-5, 1e-6);
  }
}

TEST_CASE("fused conv2d+relu gradients pass the finite-difference check",
          "[conv2d][relu][grad]") {
  Generator gen(6);
  Conv2dOptions o;
  o.in_channels = 2;
  o.out_channels = 2;
  o.kernel_size = {2, 2};
  Conv2d conv(o, gen);
  // Away from the ReLU's kink: positive inputs and weights make every pre-activation at
  // least 2; the bias keeps output channel 0 positive (gradient passes) and channel 1
  // negative (masked to 0), so both sides of the mask are checked.
  uniform_(conv.weight(), 0.5f, 1.0f, gen);
  conv.bias().data()[0] = 0.5f;
  conv.bias().data()[1] = -20.0f;
  Tensor x = Tensor::empty({2, 2, 3, 3});
  uniform_(x, 0.5f, 1.0f, gen);
  cnn::testing::check_gradients(
      "conv2d+relu", [&](const std::vector<Tensor>& in) { return conv.forward_relu(in[0]); },
      {x.set_requires_grad(), conv.weight(), conv.bias()});
}

TEST_CASE("evaluation fuses conv2d+relu+maxpool2d with the same result", "[conv2d][relu][pool2d]") {
  Generator gen(8);
  struct Case {
    int64_t channels, H, W;
  };
  // 8 channels, even map: the fused Winograd path; odd map and 3 channels: the fallback.
  for (const Case c : {Case{8, 8, 6}, Case{8, 7, 7}, Case{3, 8, 8}}) {
    INFO("channels " << c.channels << " map " << c.H << "x" << c.W);
    Conv2dOptions o;
    o.in_channels = c.channels;
    o.out_channels = 19;  // not a multiple of the 16-channel vectors
    o.kernel_size = {3, 3};
    o.padding = {1, 1};
    auto conv = std::make_shared<Conv2d>(o, gen);
    Sequential model;
    model.append(conv);
    model.append(std::make_shared<Identity>());
    model.append(std::make_shared<Activation>(Activation::Kind::ReLU));
    model.append(std::make_shared<MaxPool2d>(Pool2dOptions{}));
    Tensor x = randn({3, c.channels, c.H, c.W}, gen);
    REQUIRE(model.steps().size() == 4);  // unfused: the children
    NoGradGuard no_grad;
    const std::vector<float> separate = model.forward(x).to_vector();
    fuse_for_evaluation(model);
    const std::vector<float> fused = model.forward(x).to_vector();
    REQUIRE(fused == separate);  // the same arithmetic, and max is exact
  }
}

TEST_CASE("evaluation fusions along a chain of convs give the layers' own result",
          "[conv2d][relu][pool2d]") {
  // conv -> relu -> conv -> relu -> pool -> conv -> relu -> conv, fused (the pool too on an
  // even map, not on an odd one; a 5x5 last conv runs im2col) or layer by layer.
  Generator gen(9);
  for (const auto& [H, W, last_kernel] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {12, 8, 3}, {9, 7, 3}, {12, 8, 5}}) {
    INFO("map " << H << "x" << W << ", last kernel " << last_kernel);
    auto conv = [&](int64_t in, int64_t out, int64_t kernel) {
      Conv2dOptions o;
      o.in_channels = in;
      o.out_channels = out;
      o.kernel_size = {kernel, kernel};
      o.padding = {kernel / 2, kernel / 2};
      return std::make_shared<Conv2d>(o, gen);
    };
    auto relu = [] { return std::make_shared<Activation>(Activation::Kind::ReLU); };
    Sequential model;
    model.append(conv(8, 16, 3));
    model.append(relu());
    model.append(conv(16, 19, 3));
    model.append(std::make_shared<Identity>());
    model.append(relu());
    model.append(std::make_shared<MaxPool2d>(Pool2dOptions{}));
    model.append(conv(19, 8, 3));
    model.append(relu());
    model.append(conv(8, 5, last_kernel));
    Tensor x = randn({3, 8, H, W}, gen);
    NoGradGuard no_grad;
    const std::vector<float> separate = model.forward(x).to_vector();
    fuse_for_evaluation(model);
    const std::vector<float> fused = model.forward(x).to_vector();
    REQUIRE(fused == separate);  // the same arithmetic
  }
}
