// Shared by the optim tests: the PyTorch fixtures (tests/fixtures/make_optim_fixtures.py),
// a tolerance comparison, and the small two-layer regression problem of the fixtures.
#pragma once

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/tensor.h"
#include "optim/optimizer.h"

namespace cnn::testing {

inline const YAML::Node& optim_fixture() {
  static const YAML::Node node =
      YAML::LoadFile(std::string(CNNLAB_FIXTURES_DIR) + "/optim_steps.json");
  return node;
}

inline const YAML::Node& schedule_fixture() {
  static const YAML::Node node =
      YAML::LoadFile(std::string(CNNLAB_FIXTURES_DIR) + "/schedule_lrs.json");
  return node;
}

inline YAML::Node fixture_case(const std::string& name) {
  for (const auto& item : optim_fixture()["cases"])
    if (item["name"].as<std::string>() == name) return item;
  FAIL("no optimizer fixture case '" << name << "'; rerun make_optim_fixtures.py");
  return {};
}

inline Tensor tensor_from(const YAML::Node& shape, const YAML::Node& values) {
  return Tensor::from_vector(shape.as<std::vector<int64_t>>(), values.as<std::vector<float>>());
}

// |actual - expected| <= rtol * |expected| + atol, element by element.
inline void require_close(const std::string& what, const Tensor& actual,
                          const std::vector<float>& expected, double rtol = 1e-5,
                          double atol = 1e-7) {
  const std::vector<float> a = actual.contiguous().to_vector();
  REQUIRE(a.size() == expected.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - expected[i]) <= rtol * std::fabs(expected[i]) + atol))
      FAIL(what << ": element " << i << " is " << a[i] << ", PyTorch has " << expected[i]);
}

inline void require_identical(const std::string& what, const Tensor& a, const Tensor& b) {
  INFO(what);
  REQUIRE(a.to_vector() == b.to_vector());
}

// The fixtures' problem: mean((relu(x w1^T + b1) w2^T + b2 - y)^2).
//   x [N,3], y [N,2], w1 [4,3], b1 [4], w2 [2,4], b2 [2]
inline Tensor two_layer_loss(const Tensor& x, const Tensor& y, const std::vector<Tensor>& p) {
  Tensor hidden = relu(add(matmul(x, p[0], false, true), p[1]));
  Tensor diff = sub(add(matmul(hidden, p[2], false, true), p[3]), y);
  return mean(mul(diff, diff));
}

// Feeds the optimizer PyTorch's gradients for each step of fixture case `name` and
// compares the parameters after every step with PyTorch's.
inline void check_against_fixture(
    const std::string& name,
    const std::function<std::unique_ptr<Optimizer>(std::vector<ParamGroup>)>& make) {
  const YAML::Node problem = optim_fixture()["problem"];
  const YAML::Node item = fixture_case(name);
  ParamGroup group;
  for (const auto& param_name : problem["param_order"]) {
    const std::string key = param_name.as<std::string>();
    group.params.push_back(
        tensor_from(problem["shapes"][key], problem["initial"][key]).set_requires_grad());
    group.names.push_back(key);
  }
  std::unique_ptr<Optimizer> optimizer = make({group});
  int step = 0;
  for (const auto& recorded : item["steps"]) {
    for (size_t i = 0; i < group.params.size(); ++i)
      group.params[i].set_grad(
          tensor_from(problem["shapes"][group.names[i]], recorded["grads"][group.names[i]]));
    optimizer->step();
    ++step;
    for (size_t i = 0; i < group.params.size(); ++i)
      require_close(name + " step " + std::to_string(step) + " " + group.names[i], group.params[i],
                    recorded["params"][group.names[i]].as<std::vector<float>>());
  }
  REQUIRE(step == static_cast<int>(item["steps"].size()));
}

}  // namespace cnn::testing
