// clip_grad_norm: the global L2 norm over all gradients, PyTorch's scale
// max_norm / (norm + 1e-6) applied only below 1, undefined gradients skipped.
#include <catch2/catch.hpp>
#include <cmath>

#include "optim/clip_grad.h"

using namespace cnn;

namespace {
Tensor with_grad(const Shape& shape, const std::vector<float>& grad) {
  Tensor p = Tensor::zeros(shape).set_requires_grad();
  p.set_grad(Tensor::from_vector(shape, grad));
  return p;
}
}  // namespace

TEST_CASE("clip_grad_norm scales all gradients by one factor from the global norm",
          "[optim][clip]") {
  Tensor a = with_grad({2}, {3.0f, 0.0f});
  Tensor b = with_grad({1, 1}, {4.0f});
  Tensor no_grad = Tensor::zeros({3}).set_requires_grad();
  const double norm = clip_grad_norm({a, no_grad, b}, 1.0);
  REQUIRE(norm == Approx(5.0));
  const float scale = static_cast<float>(1.0 / (5.0 + 1e-6));
  REQUIRE(a.grad().at({0}) == Approx(3.0f * scale).epsilon(1e-6));
  REQUIRE(b.grad().at({0, 0}) == Approx(4.0f * scale).epsilon(1e-6));
  REQUIRE(grad_norm({a, b}) == Approx(1.0).epsilon(1e-5));
  REQUIRE_FALSE(no_grad.grad().defined());
}

TEST_CASE("clip_grad_norm leaves gradients below the limit untouched", "[optim][clip]") {
  Tensor a = with_grad({3}, {0.1f, -0.2f, 0.2f});
  REQUIRE(clip_grad_norm({a}, 1.0) == Approx(0.3));
  REQUIRE(a.grad().to_vector() == std::vector<float>{0.1f, -0.2f, 0.2f});
  // At the limit, norm + 1e-6 > max_norm would scale by a hair; PyTorch does too.
  Tensor b = with_grad({1}, {2.0f});
  clip_grad_norm({b}, 2.0);
  REQUIRE(b.grad().item() == Approx(2.0f).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm returns a non-finite norm without touching the gradients",
          "[optim][clip]") {
  Tensor a = with_grad({2}, {INFINITY, 1.0f});
  REQUIRE(std::isinf(clip_grad_norm({a}, 1.0)));
  REQUIRE(a.grad().at({1}) == 1.0f);
  REQUIRE_THROWS_WITH(clip_grad_norm({a}, 0.0), Catch::Contains("max_norm must be > 0"));
}
