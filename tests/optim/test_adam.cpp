// Adam and AdamW against PyTorch 1.13 (defaults, betas/eps, AMSGrad, L2, decoupled decay)
// on the fixtures' gradients, plus their defaults and option checks.
#include <catch2/catch.hpp>

#include "optim/adam.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;
using cnn::testing::check_against_fixture;

namespace {
auto adam(AdamOptions options) {
  return [options](std::vector<ParamGroup> groups) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Adam>(std::move(groups), options);
  };
}
auto adamw(AdamWOptions options) {
  return [options](std::vector<ParamGroup> groups) -> std::unique_ptr<Optimizer> {
    return std::make_unique<AdamW>(std::move(groups), options);
  };
}
}  // namespace

TEST_CASE("adam matches PyTorch", "[optim][adam][pytorch]") {
  check_against_fixture("adam", adam({.lr = 0.01}));
}

TEST_CASE("adam matches PyTorch: betas and eps", "[optim][adam][pytorch]") {
  check_against_fixture("adam_betas_eps",
                        adam({.lr = 0.02, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6}));
}

TEST_CASE("adam matches PyTorch: amsgrad", "[optim][adam][pytorch]") {
  check_against_fixture("adam_amsgrad", adam({.lr = 0.01, .beta2 = 0.5, .amsgrad = true}));
}

TEST_CASE("adam matches PyTorch: L2 weight decay added to the gradient", "[optim][adam][pytorch]") {
  check_against_fixture("adam_l2", adam({.lr = 0.01, .weight_decay = 0.1}));
}

TEST_CASE("adamw matches PyTorch: decoupled weight decay", "[optim][adamw][pytorch]") {
  AdamWOptions options;
  options.lr = 0.01;
  options.weight_decay = 0.1;
  check_against_fixture("adamw", adamw(options));
}

TEST_CASE("adamw matches PyTorch with PyTorch's defaults", "[optim][adamw][pytorch]") {
  check_against_fixture("adamw_defaults", adamw(AdamWOptions()));
}

TEST_CASE("adam and adamw defaults are PyTorch's", "[optim][adam]") {
  AdamOptions adam_defaults;
  REQUIRE(adam_defaults.lr == 1e-3);
  REQUIRE(adam_defaults.beta1 == 0.9);
  REQUIRE(adam_defaults.beta2 == 0.999);
  REQUIRE(adam_defaults.eps == 1e-8);
  REQUIRE(adam_defaults.weight_decay == 0.0);
  REQUIRE_FALSE(adam_defaults.amsgrad);
  REQUIRE(AdamWOptions().weight_decay == 1e-2);
}

TEST_CASE("adam keeps a step count per parameter and names its state", "[optim][adam]") {
  Tensor a = Tensor::from_vector({2}, {1.0f, 2.0f}).set_requires_grad();
  Tensor b = Tensor::from_vector({1}, {3.0f}).set_requires_grad();
  Adam optimizer({ParamGroup{{a, b}, {"a", "b"}}}, {.amsgrad = true});
  a.set_grad(Tensor::ones({2}));
  b.set_grad(Tensor::ones({1}));
  optimizer.step();
  b.zero_grad();
  optimizer.step();  // b is skipped
  std::map<std::string, Tensor> state;
  for (auto& [name, tensor] : optimizer.state_tensors()) state[name] = tensor;
  REQUIRE(state.size() == 9);
  REQUIRE(state.at("optimizer.steps").data_i64()[0] == 2);
  REQUIRE(state.at("param.a.step").data_i64()[0] == 2);
  REQUIRE(state.at("param.b.step").data_i64()[0] == 1);
  REQUIRE(state.at("param.a.exp_avg").shape() == Shape{2});
  REQUIRE(state.count("param.b.max_exp_avg_sq"));
  // The first Adam step moves every coordinate by lr (m/sqrt(v) = 1 after correction).
  REQUIRE(b.item() == Approx(3.0 - 1e-3).epsilon(1e-6));
}

TEST_CASE("adam rejects betas outside 0 to 1 and a negative eps", "[optim][adam][errors]") {
  Tensor p = Tensor::zeros({1}).set_requires_grad();
  REQUIRE_THROWS_WITH(Adam({ParamGroup{{p}}}, {.beta1 = 1.0}),
                      Catch::Contains("betas[0] must be in [0, 1)"));
  REQUIRE_THROWS_WITH(Adam({ParamGroup{{p}}}, {.beta2 = -0.1}),
                      Catch::Contains("betas[1] must be in [0, 1)"));
  REQUIRE_THROWS_WITH(Adam({ParamGroup{{p}}}, {.eps = -1.0}), Catch::Contains("eps must be >= 0"));
}
