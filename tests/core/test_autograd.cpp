// The tape: accumulation, no-grad scopes, release after backward, custom ops,
// and an end-to-end fit through plain gradient descent.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/tensor_memory.h"
#include "tests/gradcheck.h"

using namespace cnn;

TEST_CASE("gradients accumulate across backward calls until zeroed", "[autograd]") {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad();
  sum(mul(x, x)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{2, 4});
  sum(mul(x, x)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{4, 8});
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
  sum(x * 3.0f).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{3, 3});
}

TEST_CASE("a tensor used twice gets both contributions", "[autograd]") {
  Tensor x = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad();
  Tensor y = add(x, mul(x, x));  // dy/dx = 1 + 2x
  sum(y).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{3, 5, 7});
}

TEST_CASE("no-grad scopes record nothing", "[autograd]") {
  Tensor x = Tensor::ones({2}).set_requires_grad();
  Tensor y;
  {
    NoGradGuard guard;
    REQUIRE_FALSE(grad_mode_enabled());
    y = mul(x, x);
  }
  REQUIRE(grad_mode_enabled());
  REQUIRE_FALSE(y.requires_grad());
  REQUIRE(y.grad_fn() == nullptr);
  REQUIRE_THROWS_WITH(sum(y).backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("backward releases saved tensors, so a second backward is a clear error", "[autograd]") {
  Tensor x = Tensor::ones({2, 2}).set_requires_grad();
  Tensor w = Tensor::ones({2, 2}).set_requires_grad();
  // The product is kept alive: released nodes are also freed once no tensor holds them
  // (the next test), and this one must outlive the backward to be inspected.
  Tensor product = matmul(x, w);
  Tensor loss = sum(product);
  std::shared_ptr<Node> matmul_node = product.grad_fn();
  REQUIRE(matmul_node != nullptr);
  loss.backward();
  REQUIRE(matmul_node->released);
  REQUIRE(matmul_node->inputs.empty());
  REQUIRE_FALSE(static_cast<bool>(matmul_node->backward));
  REQUIRE_THROWS_WITH(loss.backward(), Catch::Contains("already backpropagated"));
}

// The tape keeps edges, not data: an intermediate no backward needs (a * 2 and its sum with
// 1 save nothing) is freed as soon as the caller drops it, before the backward runs.
TEST_CASE("an intermediate tensor no backward saved is freed during the forward", "[autograd]") {
  Tensor x = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad();
  std::weak_ptr<Storage> middle;
  Tensor loss;
  {
    Tensor doubled = x * 2.0f;
    middle = doubled.impl()->storage;
    loss = sum(doubled + 1.0f);
  }
  CHECK(middle.expired());
  loss.backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{2, 2, 2});
}

// The counters bench's "tensors at a step's peak" reads: a tensor's bytes while it lives,
// the peak until reset.
TEST_CASE("tensor memory in use and its peak follow the tensors", "[autograd][memory]") {
  const size_t before = tensor_memory_in_use();
  reset_tensor_memory_peak();
  {
    Tensor big = Tensor::zeros({1 << 20});  // 4 MiB
    CHECK(tensor_memory_in_use() >= before + (size_t{4} << 20));
  }
  CHECK(tensor_memory_in_use() == before);
  CHECK(tensor_memory_peak() >= before + (size_t{4} << 20));
  reset_tensor_memory_peak();
  CHECK(tensor_memory_peak() == before);
}

TEST_CASE("the graph is freed with its last tensor, so memory does not grow", "[autograd]") {
  Tensor w = Tensor::ones({4, 4}).set_requires_grad();
  std::weak_ptr<Node> node;
  {
    Tensor loss = sum(matmul(w, w));
    node = loss.grad_fn();
    loss.backward();
  }
  REQUIRE(node.expired());
}

TEST_CASE("backward from a non-scalar needs a seed of its shape", "[autograd][errors]") {
  Tensor x = Tensor::ones({2, 3}).set_requires_grad();
  Tensor y = x * 2.0f;
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("non-scalar") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(y.backward(Tensor::ones({3})), Catch::Contains("[3]"));
  y.backward(Tensor::full({2, 3}, 0.5f));
  REQUIRE(x.grad().to_vector()[0] == 1.0f);
}

TEST_CASE("custom ops: a user-defined forward and backward join the tape", "[autograd][custom]") {
  // cube(x) = x^3 with a hand-written backward 3x^2.
  CustomOp cube{"cube",
                [](const std::vector<Tensor>& in) { return mul(mul(in[0], in[0]), in[0]); },
                [](const std::vector<Tensor>& in, const Tensor&, const Tensor& g) {
                  return std::vector<Tensor>{mul(g, mul(in[0], in[0]) * 3.0f)};
                }};
  Generator gen(3);
  Tensor x = randn({3, 4}, gen).set_requires_grad();
  Tensor y = cube({x});
  REQUIRE(y.grad_fn()->op == "cube");
  testing::check_gradients("custom cube", [&](auto& in) { return cube({in[0]}); }, {x});

  CustomOp wrong{"wrong_count", [](const std::vector<Tensor>& in) { return in[0] * 1.0f; },
                 [](const std::vector<Tensor>&, const Tensor&, const Tensor& g) {
                   return std::vector<Tensor>{g, g};
                 }};
  Tensor z = Tensor::ones({2}).set_requires_grad();
  REQUIRE_THROWS_WITH(sum(wrong({z})).backward(), Catch::Contains("wrong_count"));
}

TEST_CASE("a 2-layer MLP fits synthetic data with plain gradient descent", "[autograd][e2e]") {
  // Two Gaussian blobs in 4-d; labels as targets for a sigmoid-free squared loss on logits.
  Generator gen(42);
  const int64_t n = 64;
  Tensor x = randn({n, 4}, gen);
  Tensor target = Tensor::empty({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    float label = (i % 2) ? 1.0f : -1.0f;
    for (int64_t j = 0; j < 4; ++j) x.data()[i * 4 + j] += label * 1.5f;
    target.data()[i] = label;
  }
  Tensor w1 = randn({4, 16}, gen) * 0.5f, b1 = Tensor::zeros({16});
  Tensor w2 = randn({16, 1}, gen) * 0.25f, b2 = Tensor::zeros({1});
  std::vector<Tensor> params{w1, b1, w2, b2};
  for (Tensor& p : params) p.set_requires_grad();
  float first = 0, last = 0;
  for (int step = 0; step < 600; ++step) {
    Tensor hidden = relu(add(matmul(x, params[0]), params[1]));
    Tensor pred = add(matmul(hidden, params[2]), params[3]);
    Tensor diff = sub(pred, target);
    Tensor loss = mean(mul(diff, diff));
    if (step == 0) first = loss.item();
    last = loss.item();
    for (Tensor& p : params) p.zero_grad();
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor& p : params) {
      float* w = p.data();
      const float* g = p.grad().data();
      for (int64_t i = 0; i < p.numel(); ++i) w[i] -= 0.05f * g[i];
    }
  }
  INFO("first loss " << first << ", last loss " << last);
  REQUIRE(first > 0.5f);
  REQUIRE(last < 0.05f);
}
