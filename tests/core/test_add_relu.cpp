// add_relu: relu(a + b) in one op (the residual block's sum and activation): the same values
// and gradients as add then relu, a finite-difference check away from the kink, and the
// shape error.
#include <catch2/catch.hpp>

#include "core/ops.h"
#include "core/random.h"
#include "tests/gradcheck.h"

using namespace cnn;

TEST_CASE("add_relu equals relu of add, values and gradients", "[ops][grad]") {
  Generator gen(21);
  Tensor a = randn({3, 4, 5}, gen).set_requires_grad();
  Tensor b = randn({3, 4, 5}, gen).set_requires_grad();
  Tensor gy = randn({3, 4, 5}, gen);
  Tensor fused = add_relu(a, b);
  fused.backward(gy);
  const auto fused_da = a.grad().to_vector(), fused_db = b.grad().to_vector();
  a.zero_grad();
  b.zero_grad();
  Tensor separate = relu(add(a, b));
  separate.backward(gy);
  REQUIRE(fused.to_vector() == separate.to_vector());
  REQUIRE(fused_da == a.grad().to_vector());
  REQUIRE(fused_db == b.grad().to_vector());

  testing::GradCheckOptions kink;
  kink.use_kink = true;
  kink.kink_range = 0.05f;
  Generator inputs(22);
  Tensor x = randn({2, 6}, inputs).set_requires_grad();
  Tensor y = randn({2, 6}, inputs).set_requires_grad();
  testing::check_gradients("add_relu", [](auto& in) { return add_relu(in[0], in[1]); }, {x, y},
                           kink);
}

TEST_CASE("add_relu rejects inputs of different shapes", "[ops][errors]") {
  REQUIRE_THROWS_WITH(add_relu(Tensor::zeros({2, 3}), Tensor::zeros({3})),
                      Catch::Contains("add_relu") && Catch::Contains("[2, 3]"));
}
