// Weight-decay groups from named parameters and the names to spare, and AdamW over the two
// groups against PyTorch. (Which names a model spares: tests/layers/test_param_groups.cpp.)
#include <catch2/catch.hpp>

#include "optim/adam.h"
#include "optim/param_groups.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;

namespace {
// linear, layernorm over [2,2] (a 2-D weight), linear: the exclusion fixture's layout.
const std::vector<std::pair<std::string, Shape>> kLayout = {
    {"0.weight", {4, 3}}, {"0.bias", {4}},      {"1.weight", {2, 2}},
    {"1.bias", {2, 2}},   {"2.weight", {2, 4}}, {"2.bias", {2}}};
// What no_decay_parameter_names gives for that model: biases and the layernorm's parameters.
const std::vector<std::string> kNoDecay = {"0.bias", "1.weight", "1.bias", "2.bias"};

std::vector<NamedTensor> linear_layernorm_linear() {
  std::vector<NamedTensor> parameters;
  for (const auto& [name, shape] : kLayout)
    parameters.emplace_back(name, Tensor::zeros(shape).set_requires_grad());
  return parameters;
}

std::vector<std::string> group_names(const ParamGroup& group) { return group.names; }
}  // namespace

TEST_CASE("make_param_groups without exclusion: one group with every parameter",
          "[optim][param_groups]") {
  const auto parameters = linear_layernorm_linear();
  const auto groups = make_param_groups(parameters, kNoDecay, 0.1, false);
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].label == "all");
  REQUIRE(groups[0].params.size() == 6);
  REQUIRE(*groups[0].weight_decay == 0.1);
  REQUIRE_FALSE(groups[0].lr.has_value());
  REQUIRE(groups[0].params[0].same_as(parameters[0].second));
}

TEST_CASE("make_param_groups spares the named parameters, in the parameters' order",
          "[optim][param_groups]") {
  const auto groups = make_param_groups(linear_layernorm_linear(), kNoDecay, 0.1, true);
  REQUIRE(groups.size() == 2);
  REQUIRE(groups[0].label == "decay");
  REQUIRE(*groups[0].weight_decay == 0.1);
  REQUIRE(group_names(groups[0]) == std::vector<std::string>{"0.weight", "2.weight"});
  REQUIRE(groups[1].label == "no_decay");
  REQUIRE(*groups[1].weight_decay == 0.0);
  REQUIRE(group_names(groups[1]) ==
          std::vector<std::string>{"0.bias", "1.weight", "1.bias", "2.bias"});
}

TEST_CASE("make_param_groups leaves out an empty group", "[optim][param_groups]") {
  const std::vector<NamedTensor> only_biases = {{"bias", Tensor::zeros({3}).set_requires_grad()}};
  const auto groups = make_param_groups(only_biases, {"bias"}, 0.1, true);
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].label == "no_decay");
}

TEST_CASE("adamw over the exclusion groups matches PyTorch's two param groups",
          "[optim][param_groups][pytorch]") {
  const YAML::Node item = cnn::testing::optim_fixture()["exclusion"];
  std::vector<NamedTensor> parameters = linear_layernorm_linear();
  for (auto& [name, tensor] : parameters)
    tensor.copy_(cnn::testing::tensor_from(item["shapes"][name], item["initial"][name]));
  AdamWOptions options;
  options.lr = item["lr"].as<double>();
  AdamW optimizer(make_param_groups(parameters, kNoDecay, item["weight_decay"].as<double>(), true),
                  options);
  int step = 0;
  for (const auto& recorded : item["steps"]) {
    ++step;
    for (auto& [name, tensor] : parameters)
      tensor.set_grad(cnn::testing::tensor_from(item["shapes"][name], recorded["grads"][name]));
    optimizer.step();
    for (auto& [name, tensor] : parameters)
      cnn::testing::require_close("step " + std::to_string(step) + " " + name, tensor,
                                  recorded["params"][name].as<std::vector<float>>());
  }
  REQUIRE(step == 6);
}
