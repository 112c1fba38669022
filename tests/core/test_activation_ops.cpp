// The activation ops (core/ops_activation.cpp): values against PyTorch, gradient checks
// (away from the kinks), and finite results for large inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "core/ops.h"
#include "core/random.h"
#include "tests/gradcheck.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::GradCheckOptions;

namespace {
const Tensor kPoints = Tensor::from_vector({6}, {-3.0f, -1.5f, -0.25f, 0.5f, 1.25f, 4.0f});

Tensor values(std::initializer_list<float> v) { return Tensor::from_vector({6}, v); }

// Passes when |actual - expected| <= 1e-6 + 1e-5 * |expected| for every element.
void require_close(const std::string& what, const Tensor& actual, const Tensor& expected) {
  INFO(what);
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << " is " << a[i] << ", expected " << e[i]);
    REQUIRE(std::fabs(static_cast<double>(a[i]) - e[i]) <= 1e-6 + 1e-5 * std::fabs(e[i]));
  }
}
}  // namespace

TEST_CASE("activation ops match PyTorch", "[ops][activations]") {
  // Printed by torch.nn.functional in float64 at the same points.
  require_close("leaky_relu", leaky_relu(kPoints),
                values({-0.03f, -0.015f, -0.0025f, 0.5f, 1.25f, 4.0f}));
  require_close("leaky_relu 0.2", leaky_relu(kPoints, 0.2f),
                values({-0.6f, -0.3f, -0.05f, 0.5f, 1.25f, 4.0f}));
  require_close("elu", elu(kPoints),
                values({-0.950212932f, -0.77686984f, -0.221199217f, 0.5f, 1.25f, 4.0f}));
  require_close("elu 0.5", elu(kPoints, 0.5f),
                values({-0.475106466f, -0.38843492f, -0.110599608f, 0.5f, 1.25f, 4.0f}));
  require_close("sigmoid", sigmoid(kPoints),
                values({0.0474258732f, 0.182425524f, 0.437823499f, 0.622459331f, 0.777299861f,
                        0.98201379f}));
  require_close("tanh", cnn::tanh(kPoints),
                values({-0.995054754f, -0.905148254f, -0.244918662f, 0.462117157f, 0.84828364f,
                        0.9993293f}));
  require_close("gelu", gelu(kPoints),
                values({-0.00404969409f, -0.100210802f, -0.100323419f, 0.345731231f, 1.11793778f,
                        3.99987332f}));
  require_close("silu", silu(kPoints),
                values({-0.14227762f, -0.273638286f, -0.109455875f, 0.311229666f, 0.971624826f,
                        3.92805516f}));
}

TEST_CASE("activation ops pass the finite-difference check", "[ops][activations][grad]") {
  Generator gen(11);
  Tensor x = Tensor::empty({2, 3, 4, 5});
  uniform_(x, -3.0f, 3.0f, gen);
  x.set_requires_grad();
  GradCheckOptions kinked;  // leaky_relu, and elu with alpha != 1: skip inputs near 0
  kinked.use_kink = true;
  kinked.kink = 0.0f;
  kinked.kink_range = 0.05f;
  check_gradients("leaky_relu", [](auto& in) { return leaky_relu(in[0], 0.1f); }, {x}, kinked);
  check_gradients("elu", [](auto& in) { return elu(in[0]); }, {x}, kinked);
  check_gradients("elu 0.5", [](auto& in) { return elu(in[0], 0.5f); }, {x}, kinked);
  check_gradients("sigmoid", [](auto& in) { return sigmoid(in[0]); }, {x});
  check_gradients("tanh", [](auto& in) { return cnn::tanh(in[0]); }, {x});
  check_gradients("gelu", [](auto& in) { return gelu(in[0]); }, {x});
  check_gradients("silu", [](auto& in) { return silu(in[0]); }, {x});
}

TEST_CASE("sigmoid and silu stay finite for large inputs", "[ops][activations]") {
  Tensor big = Tensor::from_vector({4}, {-200.0f, -90.0f, 90.0f, 200.0f});
  for (float v : sigmoid(big).to_vector()) REQUIRE(std::isfinite(v));
  for (float v : silu(big).to_vector()) REQUIRE(std::isfinite(v));
  REQUIRE(sigmoid(big).to_vector()[0] == 0.0f);
  REQUIRE(sigmoid(big).to_vector()[3] == 1.0f);
}
