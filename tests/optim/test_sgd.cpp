// SGD against PyTorch 1.13 (plain, momentum, Nesterov, dampening, weight decay) on the
// fixtures' gradients, plus its option checks and first-step rule.
#include <catch2/catch.hpp>

#include "optim/sgd.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;
using cnn::testing::check_against_fixture;

namespace {
auto sgd(SGDOptions options) {
  return [options](std::vector<ParamGroup> groups) -> std::unique_ptr<Optimizer> {
    return std::make_unique<SGD>(std::move(groups), options);
  };
}
}  // namespace

TEST_CASE("sgd matches PyTorch: plain", "[optim][sgd][pytorch]") {
  check_against_fixture("sgd_plain", sgd({.lr = 0.1}));
}

TEST_CASE("sgd matches PyTorch: momentum", "[optim][sgd][pytorch]") {
  check_against_fixture("sgd_momentum", sgd({.lr = 0.1, .momentum = 0.9}));
}

TEST_CASE("sgd matches PyTorch: nesterov", "[optim][sgd][pytorch]") {
  check_against_fixture("sgd_nesterov", sgd({.lr = 0.1, .momentum = 0.9, .nesterov = true}));
}

TEST_CASE("sgd matches PyTorch: dampening", "[optim][sgd][pytorch]") {
  check_against_fixture("sgd_dampening", sgd({.lr = 0.1, .momentum = 0.9, .dampening = 0.5}));
}

TEST_CASE("sgd matches PyTorch: weight decay with momentum", "[optim][sgd][pytorch]") {
  check_against_fixture("sgd_weight_decay",
                        sgd({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05}));
}

TEST_CASE("sgd: the first step puts the gradient in the buffer without dampening", "[optim][sgd]") {
  Tensor p = Tensor::from_vector({2}, {1.0f, 2.0f}).set_requires_grad();
  SGD optimizer({ParamGroup{{p}, {"p"}}}, {.lr = 0.5, .momentum = 0.9, .dampening = 0.5});
  p.set_grad(Tensor::from_vector({2}, {1.0f, -1.0f}));
  optimizer.step();
  REQUIRE(p.to_vector() == std::vector<float>{0.5f, 2.5f});  // p - lr * g
  p.set_grad(Tensor::from_vector({2}, {1.0f, -1.0f}));
  optimizer.step();  // buf = 0.9 * 1 + 0.5 * 1 = 1.4
  REQUIRE(p.at({0}) == Approx(0.5 - 0.5 * 1.4));
}

TEST_CASE("sgd skips parameters without a gradient and zero_grad drops gradients", "[optim][sgd]") {
  Tensor a = Tensor::from_vector({1}, {1.0f}).set_requires_grad();
  Tensor b = Tensor::from_vector({1}, {1.0f}).set_requires_grad();
  SGD optimizer({ParamGroup{{a, b}, {"a", "b"}}}, {.lr = 1.0, .momentum = 0.9});
  a.set_grad(Tensor::from_vector({1}, {0.25f}));
  optimizer.step();
  REQUIRE(a.item() == 0.75f);
  REQUIRE(b.item() == 1.0f);
  // Only a has state: b was never stepped.
  const auto state = optimizer.state_tensors();
  REQUIRE(state.size() == 2);
  REQUIRE(state[1].first == "param.a.momentum_buffer");
  optimizer.zero_grad();
  REQUIRE_FALSE(a.grad().defined());
}

TEST_CASE("sgd rejects nesterov without momentum and negative settings", "[optim][sgd][errors]") {
  Tensor p = Tensor::zeros({1}).set_requires_grad();
  REQUIRE_THROWS_WITH(SGD({ParamGroup{{p}}}, {.lr = 0.1, .nesterov = true}),
                      Catch::Contains("nesterov needs momentum > 0 and dampening 0"));
  REQUIRE_THROWS_WITH(
      SGD({ParamGroup{{p}}}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
      Catch::Contains("dampening 0.1"));
  REQUIRE_THROWS_WITH(SGD({ParamGroup{{p}}}, {.lr = -1.0}),
                      Catch::Contains("negative learning rate"));
  REQUIRE_THROWS_WITH(SGD({ParamGroup{{p}}}, {.lr = 0.1, .momentum = -0.5}),
                      Catch::Contains("momentum must be >= 0"));
  REQUIRE_THROWS_WITH(SGD({ParamGroup{{p, p}}}, {.lr = 0.1}),
                      Catch::Contains("appears more than once"));
  REQUIRE_THROWS_WITH(SGD({ParamGroup{}}, {.lr = 0.1}),
                      Catch::Contains("no parameters to optimize"));
}
