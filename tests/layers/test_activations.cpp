// Activations: values against PyTorch, gradient checks (away from the kinks), the registry.
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

TEST_CASE("activation values match PyTorch", "[activations]") {
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
  Activation relu_layer(Activation::Kind::ReLU);
  require_close("relu", relu_layer.forward(kPoints), values({0, 0, 0, 0.5f, 1.25f, 4.0f}));
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

TEST_CASE("sigmoid and silu stay finite for large inputs", "[activations]") {
  Tensor big = Tensor::from_vector({4}, {-200.0f, -90.0f, 90.0f, 200.0f});
  for (float v : sigmoid(big).to_vector()) REQUIRE(std::isfinite(v));
  for (float v : silu(big).to_vector()) REQUIRE(std::isfinite(v));
  REQUIRE(sigmoid(big).to_vector()[0] == 0.0f);
  REQUIRE(sigmoid(big).to_vector()[3] == 1.0f);
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
