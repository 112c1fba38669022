// Cross-entropy (values and gradients against PyTorch, label smoothing, stability,
// gradient check, label errors) and the top-1 metrics.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops.h"
#include "core/random.h"
#include "core/loss.h"
#include "tests/gradcheck.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::require_close;

TEST_CASE("cross_entropy agrees with PyTorch fixtures, label smoothing included",
          "[loss][pytorch]") {
  YAML::Node cases = cnn::testing::load_fixture("cross_entropy_cases.json");
  REQUIRE(cases.size() >= 3);
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const YAML::Node c = it->second;
    Tensor logits = cnn::testing::fixture_tensor(c["logits"], true);
    Tensor labels = cnn::testing::fixture_labels(c["labels"]);
    Tensor loss = cross_entropy(logits, labels, c["label_smoothing"].as<float>());
    REQUIRE(loss.dim() == 0);
    require_close(name + " loss", loss, Tensor::scalar(c["loss"].as<float>()));
    loss.backward();
    require_close(name + " grad logits", logits.grad(),
                  cnn::testing::fixture_tensor(c["grad_logits"]));
  }
}

TEST_CASE("cross_entropy by hand: uniform logits give log K, and smoothing spreads the target",
          "[loss]") {
  Tensor logits = Tensor::zeros({2, 4});
  Tensor labels = Tensor::from_int64({2}, {1, 3});
  REQUIRE(cross_entropy(logits, labels).item() == Approx(std::log(4.0f)));
  // A confident correct prediction: small loss without smoothing, a floor with it.
  Tensor confident = Tensor::from_vector({1, 3}, {20.0f, 0.0f, 0.0f});
  Tensor first = Tensor::from_int64({1}, {0});
  REQUIRE(cross_entropy(confident, first).item() < 1e-6f);
  // eps/K * sum_k -log p_k = 0.1/3 * (0 + 20 + 20) (to float precision)
  REQUIRE(cross_entropy(confident, first, 0.1f).item() == Approx(0.1f / 3.0f * 40.0f).epsilon(1e-4));
  // Very large logits stay finite (the row maximum is subtracted).
  Tensor huge = Tensor::from_vector({1, 3}, {1000.0f, -1000.0f, 0.0f});
  Tensor wrong = Tensor::from_int64({1}, {1});
  REQUIRE(cross_entropy(huge, wrong).item() == Approx(2000.0f));
}

TEST_CASE("cross_entropy gradient passes the finite-difference check", "[loss][grad]") {
  Generator gen(3);
  Tensor logits = randn({4, 5}, gen).set_requires_grad();
  Tensor labels = Tensor::from_int64({4}, {0, 4, 2, 2});
  check_gradients("cross_entropy", [labels](auto& in) { return cross_entropy(in[0], labels); },
                  {logits});
  check_gradients("cross_entropy smoothing 0.2",
                  [labels](auto& in) { return cross_entropy(in[0], labels, 0.2f); }, {logits});
  // Composed with other ops, the incoming gradient scales the fused backward.
  check_gradients("3 * cross_entropy",
                  [labels](auto& in) { return cross_entropy(in[0], labels) * 3.0f; }, {logits});
}

TEST_CASE("cross_entropy rejects labels and shapes that do not fit", "[loss][errors]") {
  Tensor logits = Tensor::zeros({3, 10});
  REQUIRE_THROWS_WITH(cross_entropy(logits, Tensor::from_int64({3}, {1, 10, 2})),
                      Catch::Contains("label 10 at index 1") && Catch::Contains("[0, 10)"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, Tensor::from_int64({3}, {1, 2, -1})),
                      Catch::Contains("label -1 at index 2"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, Tensor::from_int64({2}, {1, 2})),
                      Catch::Contains("[3, 10]") && Catch::Contains("[2]"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, Tensor::zeros({3})), Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(cross_entropy(Tensor::zeros({3, 2, 2}), Tensor::from_int64({3}, {0, 0, 0})),
                      Catch::Contains("logits [N, K]"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, Tensor::from_int64({3}, {0, 0, 0}), 1.5f),
                      Catch::Contains("label_smoothing"));
  REQUIRE_THROWS_WITH(accuracy(logits, Tensor::from_int64({3}, {0, 0, 11})),
                      Catch::Contains("count_correct") && Catch::Contains("label 11"));
}

TEST_CASE("accuracy and count_correct are top-1 with the first maximum on ties", "[loss]") {
  Tensor logits = Tensor::from_vector({4, 3}, {0.1f, 0.7f, 0.2f,    // 1
                                               2.0f, -1.0f, 0.0f,   // 0
                                               0.5f, 0.5f, 0.1f,    // tie -> 0
                                               -3.0f, -2.0f, -1.0f  // 2
                                              });
  Tensor labels = Tensor::from_int64({4}, {1, 2, 0, 2});
  REQUIRE(count_correct(logits, labels) == 3);
  REQUIRE(accuracy(logits, labels) == Approx(0.75));
  REQUIRE(accuracy(Tensor::zeros({0, 3}), Tensor::from_int64({0}, {})) == 0.0);
}
