// Activation layers: each computes its core function (whose values against PyTorch are
// tests/core/test_activation_ops.cpp), gradient checks (away from the kinks), the registry.
#include <catch2/catch.hpp>

#include "core/ops.h"
#include "core/random.h"
#include "layers/activations.h"
#include "layers/builder.h"
#include "layers/registry.h"
#include "tests/gradcheck.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::GradCheckOptions;
using cnn::testing::require_close;

namespace {
const Tensor kPoints = Tensor::from_vector({6}, {-3.0f, -1.5f, -0.25f, 0.5f, 1.25f, 4.0f});

Tensor values(std::initializer_list<float> v) { return Tensor::from_vector({6}, v); }

Tensor random_input(uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::empty({2, 3, 4, 5});
  uniform_(x, -3.0f, 3.0f, gen);
  return x.set_requires_grad();
}
}  // namespace

TEST_CASE("activation layers compute their core functions", "[activations]") {
  Activation relu_layer(Activation::Kind::ReLU);
  require_close("relu", relu_layer.forward(kPoints), values({0, 0, 0, 0.5f, 1.25f, 4.0f}));
  for (auto kind : {Activation::Kind::LeakyReLU, Activation::Kind::ELU, Activation::Kind::Sigmoid,
                    Activation::Kind::Tanh, Activation::Kind::GELU, Activation::Kind::SiLU}) {
    Activation layer(kind, kind == Activation::Kind::LeakyReLU ? 0.01f : 1.0f);
    Tensor expected = kind == Activation::Kind::LeakyReLU ? leaky_relu(kPoints)
                      : kind == Activation::Kind::ELU     ? elu(kPoints)
                      : kind == Activation::Kind::Sigmoid ? sigmoid(kPoints)
                      : kind == Activation::Kind::Tanh    ? cnn::tanh(kPoints)
                      : kind == Activation::Kind::GELU    ? gelu(kPoints)
                                                          : silu(kPoints);
    REQUIRE(layer.forward(kPoints).to_vector() == expected.to_vector());
  }
}

TEST_CASE("activation gradients pass the finite-difference check", "[activations][grad]") {
  GradCheckOptions kinked;  // relu and leaky_relu: skip inputs near the kink at 0
  kinked.use_kink = true;
  kinked.kink = 0.0f;
  kinked.kink_range = 0.05f;
  Tensor x = random_input(11);
  for (auto kind : {Activation::Kind::ReLU, Activation::Kind::LeakyReLU}) {
    auto layer = std::make_shared<Activation>(kind, 0.1f);
    check_gradients(layer->describe(), [layer](auto& in) { return layer->forward(in[0]); }, {x},
                    kinked);
  }
  // elu is C1 at 0 for alpha = 1 only; keep the kink guard for other alphas.
  for (float alpha : {1.0f, 0.5f}) {
    auto layer = std::make_shared<Activation>(Activation::Kind::ELU, alpha);
    check_gradients(layer->describe(), [layer](auto& in) { return layer->forward(in[0]); }, {x},
                    kinked);
  }
  for (auto kind : {Activation::Kind::Sigmoid, Activation::Kind::Tanh, Activation::Kind::GELU,
                    Activation::Kind::SiLU}) {
    auto layer = std::make_shared<Activation>(kind);
    check_gradients(layer->describe(), [layer](auto& in) { return layer->forward(in[0]); }, {x});
  }
}

TEST_CASE("activations build from YAML with their keys and defaults", "[activations][registry]") {
  Generator gen(0);
  auto net = build_model(YAML::Load(R"(
layers:
  - relu: {}
  - leaky_relu: {}
  - leaky_relu: {negative_slope: 0.2}
  - elu: {alpha: 0.5}
  - sigmoid: {}
  - tanh: {}
  - gelu: {}
  - silu: {}
)"),
                         {1, 3, 4, 4}, gen);
  REQUIRE(net->size() == 8);
  REQUIRE(net->at(0)->describe() == "relu");
  REQUIRE(net->at(1)->describe() == "leaky_relu(negative_slope=0.01)");
  REQUIRE(net->at(2)->describe() == "leaky_relu(negative_slope=0.2)");
  REQUIRE(net->at(3)->describe() == "elu(alpha=0.5)");
  REQUIRE(net->at(6)->type() == "gelu");
  REQUIRE(net->output_shape({5, 3, 4, 4}) == Shape{5, 3, 4, 4});
  REQUIRE(net->state_dict().empty());
  REQUIRE_THROWS_WITH(build_model(YAML::Load("layers: [{leaky_relu: {slope: 0.1}}]"),
                                  {1, 3, 4, 4}, gen),
                      Catch::Contains("slope") && Catch::Contains("negative_slope"));
}
