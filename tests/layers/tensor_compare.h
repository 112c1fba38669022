// Test helpers for the layer tests: read a fixture tensor written by a make_*_fixtures.py
// script ({"shape": [...], "data": [...]}), and compare tensors element-wise with a
// relative-plus-absolute tolerance, reporting the first element that differs.
#pragma once

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "core/tensor.h"

namespace cnn::testing {

inline YAML::Node load_fixture(const std::string& file) {
  return YAML::LoadFile(std::string(CNNLAB_FIXTURES_DIR) + "/" + file);
}

inline Tensor fixture_tensor(const YAML::Node& node, bool requires_grad = false) {
  Shape shape = node["shape"].as<std::vector<int64_t>>();
  Tensor t = Tensor::from_vector(shape, node["data"].as<std::vector<float>>());
  if (requires_grad) t.set_requires_grad();
  return t;
}

inline Tensor fixture_labels(const YAML::Node& node) {
  return Tensor::from_int64(node["shape"].as<std::vector<int64_t>>(),
                            node["data"].as<std::vector<int64_t>>());
}

// Passes when |actual - expected| <= atol + rtol * |expected| for every element.
inline void require_close(const std::string& what, const Tensor& actual, const Tensor& expected,
                          double rtol = 1e-5, double atol = 1e-6) {
  INFO(what);
  REQUIRE(actual.defined());
  REQUIRE(expected.defined());
  REQUIRE(shape_str(actual.shape()) == shape_str(expected.shape()));
  Tensor a = actual.contiguous(), e = expected.contiguous();
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i], y = e.data()[i];
    if (std::fabs(x - y) > atol + rtol * std::fabs(y)) {
      FAIL(what << ": element " << i << " of " << shape_str(a.shape()) << " is " << x
                << ", expected " << y);
    }
  }
}

}  // namespace cnn::testing
