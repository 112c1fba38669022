// Every core op, gradient-checked through the one helper, plus forward values.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops.h"
#include "core/random.h"
#include "tests/gradcheck.h"

using namespace cnn;
using cnn::testing::check_gradients;

namespace {
Tensor param(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  uniform_(t, low, high, gen);
  t.set_requires_grad();
  return t;
}
}  // namespace

TEST_CASE("binary ops: values and broadcasting of bias-shaped operands", "[ops]") {
  Tensor a = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor row = Tensor::from_vector({3}, {10, 20, 30});
  Tensor col = Tensor::from_vector({2, 1}, {100, 200});
  REQUIRE(add(a, row).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  REQUIRE(add(a, col).to_vector() == std::vector<float>{101, 102, 103, 204, 205, 206});
  REQUIRE(sub(a, row).to_vector()[5] == -24.0f);
  REQUIRE(mul(a, col).to_vector()[4] == 1000.0f);
  REQUIRE(div(a, row).to_vector()[2] == Approx(0.1f));
  REQUIRE((a * 2.0f + 1.0f).to_vector()[0] == 3.0f);
  REQUIRE(add(a, Tensor::scalar(1.0f)).to_vector()[0] == 2.0f);
  Tensor nchw = Tensor::zeros({2, 3, 2, 2});
  Tensor bias = Tensor::from_vector({1, 3, 1, 1}, {1, 2, 3});
  Tensor out = add(nchw, bias);
  REQUIRE(out.at({1, 2, 1, 0}) == 3.0f);
}

TEST_CASE("binary ops reject shapes that cannot broadcast", "[ops][errors]") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  REQUIRE_THROWS_WITH(add(a, b), Catch::Contains("add") && Catch::Contains("[2, 3]") &&
                                     Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(mul(a, Tensor::zeros({3, 3})), Catch::Contains("mul"));
  REQUIRE_THROWS_WITH(matmul(a, Tensor::zeros({2, 2})),
                      Catch::Contains("matmul") && Catch::Contains("[2, 3]"));
}

TEST_CASE("gradients of broadcasting arithmetic", "[ops][grad]") {
  Tensor a = param({2, 3, 2, 2}, 1), bias = param({1, 3, 1, 1}, 2), row = param({2}, 3);
  check_gradients("add", [](auto& in) { return add(in[0], in[1]); }, {a, bias});
  check_gradients("sub", [](auto& in) { return sub(in[0], in[1]); }, {a, row});
  check_gradients("mul", [](auto& in) { return mul(in[0], in[1]); }, {a, bias});
  Tensor denom = param({1, 3, 1, 1}, 4, 0.5f, 2.0f);
  check_gradients("div", [](auto& in) { return div(in[0], in[1]); }, {a, denom});
  check_gradients("div by broadcast numerator", [](auto& in) { return div(in[1], in[0]); },
                  {param({2, 3}, 5, 0.5f, 2.0f), param({3}, 6)});
}

TEST_CASE("gradients of scalar and unary ops", "[ops][grad]") {
  Tensor a = param({3, 4}, 7);
  Tensor positive = param({3, 4}, 8, 0.2f, 2.0f);
  check_gradients("add_scalar", [](auto& in) { return add_scalar(in[0], 1.5f); }, {a});
  check_gradients("mul_scalar", [](auto& in) { return mul_scalar(in[0], -2.0f); }, {a});
  check_gradients("neg", [](auto& in) { return neg(in[0]); }, {a});
  check_gradients("pow", [](auto& in) { return pow_scalar(in[0], 3.0f); }, {a});
  check_gradients("exp", [](auto& in) { return exp(in[0]); }, {a});
  check_gradients("log", [](auto& in) { return log(in[0]); }, {positive});
  check_gradients("sqrt", [](auto& in) { return sqrt(in[0]); }, {positive});
  testing::GradCheckOptions kink;
  kink.use_kink = true;
  kink.kink_range = 0.05f;
  check_gradients("relu", [](auto& in) { return relu(in[0]); }, {a}, kink);
}

TEST_CASE("matmul matches a naive product and its gradients, with transposes", "[ops][grad]") {
  Tensor a = param({3, 4}, 9), b = param({4, 5}, 10);
  Tensor c = matmul(a, b);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < 4; ++k) acc += a.at({i, k}) * b.at({k, j});
      REQUIRE(c.at({i, j}) == Approx(acc).margin(1e-5));
    }
  check_gradients("matmul", [](auto& in) { return matmul(in[0], in[1]); }, {a, b});
  check_gradients("matmul A^T", [](auto& in) { return matmul(in[0], in[1], true, false); },
                  {param({4, 3}, 11), param({4, 5}, 12)});
  check_gradients("matmul B^T", [](auto& in) { return matmul(in[0], in[1], false, true); },
                  {param({3, 4}, 13), param({5, 4}, 14)});
  check_gradients("matmul A^T B^T", [](auto& in) { return matmul(in[0], in[1], true, true); },
                  {param({4, 3}, 15), param({5, 4}, 16)});
}

TEST_CASE("reductions: values and gradients", "[ops][grad]") {
  Tensor a = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  REQUIRE(sum(a).item() == 21.0f);
  REQUIRE(mean(a).item() == 3.5f);
  REQUIRE(sum(a, {0}).to_vector() == std::vector<float>{5, 7, 9});
  REQUIRE(sum(a, {-1}, true).shape() == Shape{2, 1});
  REQUIRE(mean(a, {1}).to_vector() == std::vector<float>{2, 5});
  Tensor x = param({2, 3, 4, 5}, 17);
  check_gradients("sum all", [](auto& in) { return sum(in[0]); }, {x});
  check_gradients("mean all", [](auto& in) { return mean(in[0]); }, {x});
  check_gradients("sum NHW keepdim", [](auto& in) { return sum(in[0], {0, 2, 3}, true); }, {x});
  check_gradients("mean over C", [](auto& in) { return mean(in[0], {1}); }, {x});
  check_gradients("sum last", [](auto& in) { return sum(in[0], {-1}); }, {x});
}

TEST_CASE("reshape and flatten: values and gradients", "[ops][grad]") {
  Tensor x = param({2, 3, 2, 2}, 18);
  REQUIRE(flatten(x).shape() == Shape{2, 12});
  REQUIRE(reshape(x, {4, -1}).shape() == Shape{4, 6});
  check_gradients("flatten", [](auto& in) { return flatten(in[0]); }, {x});
  Tensor scale = Tensor::arange(24).view({6, 4});
  check_gradients("reshape", [&](auto& in) { return mul(reshape(in[0], {6, 4}), scale); }, {x});
  REQUIRE_THROWS_WITH(reshape(x, {5, -1}), Catch::Contains("[2, 3, 2, 2]"));
}
