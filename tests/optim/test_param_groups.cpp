// Weight-decay groups: which parameters are spared (ndim <= 1, and every parameter of a
// normalization module, found recursively), and AdamW over the two groups against PyTorch.
#include <catch2/catch.hpp>

#include "layers/sequential.h"
#include "optim/adam.h"
#include "optim/param_groups.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;
using cnn::testing::StubModule;

namespace {
// linear, layernorm over [2,2] (a 2-D weight), linear: the exclusion fixture's layout.
std::shared_ptr<Sequential> linear_layernorm_linear() {
  auto model = std::make_shared<Sequential>();
  model->append(std::make_shared<StubModule>(
      "linear", std::vector<std::pair<std::string, Shape>>{{"weight", {4, 3}}, {"bias", {4}}}));
  model->append(std::make_shared<StubModule>(
      "layernorm",
      std::vector<std::pair<std::string, Shape>>{{"weight", {2, 2}}, {"bias", {2, 2}}}));
  model->append(std::make_shared<StubModule>(
      "linear", std::vector<std::pair<std::string, Shape>>{{"weight", {2, 4}}, {"bias", {2}}}));
  return model;
}

std::vector<std::string> group_names(const ParamGroup& group) { return group.names; }
}  // namespace

TEST_CASE("make_param_groups without exclusion: one group with every parameter",
          "[optim][param_groups]") {
  auto model = linear_layernorm_linear();
  const auto groups = make_param_groups(*model, 0.1, false);
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].params.size() == 6);
  REQUIRE(*groups[0].weight_decay == 0.1);
  REQUIRE_FALSE(groups[0].lr.has_value());
  REQUIRE(groups[0].params[0].same_as(model->named_parameters()[0].second));
}

TEST_CASE("make_param_groups spares biases and a layernorm's multi-dimensional weight",
          "[optim][param_groups]") {
  auto model = linear_layernorm_linear();
  const auto groups = make_param_groups(*model, 0.1, true);
  REQUIRE(groups.size() == 2);
  REQUIRE(groups[0].label == "decay");
  REQUIRE(*groups[0].weight_decay == 0.1);
  REQUIRE(group_names(groups[0]) == std::vector<std::string>{"0.weight", "2.weight"});
  REQUIRE(groups[1].label == "no_decay");
  REQUIRE(*groups[1].weight_decay == 0.0);
  REQUIRE(group_names(groups[1]) ==
          std::vector<std::string>{"0.bias", "1.weight", "1.bias", "2.bias"});
}

TEST_CASE("no_decay_parameter_names walks nested children and knows every norm type",
          "[optim][param_groups]") {
  using Params = std::vector<std::pair<std::string, Shape>>;
  auto body = std::make_shared<Sequential>();
  body->append(std::make_shared<StubModule>("conv2d", Params{{"weight", {8, 8, 3, 3}}}));
  body->append(std::make_shared<StubModule>("batchnorm2d", Params{{"weight", {8}}, {"bias", {8}}}));
  body->append(std::make_shared<StubModule>("instancenorm2d", Params{{"weight", {8, 1}}}));
  auto model = std::make_shared<Sequential>();
  model->append(std::make_shared<StubModule>("conv2d", Params{{"weight", {8, 3, 3, 3}}}));
  model->append(
      std::make_shared<StubModule>("residual", Params{{"scale", {}}},
                                   std::vector<std::pair<std::string, ModulePtr>>{{"body", body}}));
  model->append(std::make_shared<StubModule>("groupnorm", Params{{"weight", {8, 1, 1}}}));
  model->append(std::make_shared<StubModule>("batchnorm1d", Params{{"weight", {8, 1}}}));
  model->append(std::make_shared<StubModule>("linear", Params{{"weight", {10, 8}}}));
  REQUIRE(no_decay_parameter_names(*model) ==
          std::vector<std::string>{"1.scale", "1.body.1.weight", "1.body.1.bias", "1.body.2.weight",
                                   "2.weight", "3.weight"});
  const auto groups = make_param_groups(*model, 5e-4, true);
  REQUIRE(group_names(groups[0]) ==
          std::vector<std::string>{"0.weight", "1.body.0.weight", "4.weight"});
}

TEST_CASE("make_param_groups leaves out an empty group", "[optim][param_groups]") {
  using Params = std::vector<std::pair<std::string, Shape>>;
  StubModule only_biases("linear", Params{{"bias", {3}}});
  const auto groups = make_param_groups(only_biases, 0.1, true);
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].label == "no_decay");
}

TEST_CASE("adamw over the exclusion groups matches PyTorch's two param groups",
          "[optim][param_groups][pytorch]") {
  const YAML::Node item = cnn::testing::optim_fixture()["exclusion"];
  auto model = linear_layernorm_linear();
  std::map<std::string, Tensor> params;
  for (auto& [name, tensor] : model->named_parameters()) {
    Tensor target = tensor;
    target.copy_(cnn::testing::tensor_from(item["shapes"][name], item["initial"][name]));
    params[name] = tensor;
  }
  AdamWOptions options;
  options.lr = item["lr"].as<double>();
  AdamW optimizer(make_param_groups(*model, item["weight_decay"].as<double>(), true), options);
  int step = 0;
  for (const auto& recorded : item["steps"]) {
    ++step;
    for (auto& [name, tensor] : params)
      tensor.set_grad(cnn::testing::tensor_from(item["shapes"][name], recorded["grads"][name]));
    optimizer.step();
    for (auto& [name, tensor] : params)
      cnn::testing::require_close("step " + std::to_string(step) + " " + name, tensor,
                                  recorded["params"][name].as<std::vector<float>>());
  }
  REQUIRE(step == 6);
}
