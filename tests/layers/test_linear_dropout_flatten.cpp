// Linear, dropout and flatten: values, gradient checks, init, train/eval behaviour,
// and a classifier head built from YAML.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops.h"
#include "core/random.h"
#include "layers/builder.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/registry.h"
#include "tests/gradcheck.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;
using cnn::testing::check_gradients;
using cnn::testing::require_close;

namespace {
Tensor random_input(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::empty(shape);
  uniform_(x, -1.0f, 1.0f, gen);
  return x.set_requires_grad();
}
}  // namespace

TEST_CASE("linear computes x W^T + b with PyTorch's layout and init", "[linear]") {
  Generator gen(7);
  Linear layer(3, 2, true, gen);
  REQUIRE(layer.weight().shape() == Shape{2, 3});
  layer.weight().copy_(Tensor::from_vector({2, 3}, {1, 2, 3, -1, 0, 1}));
  layer.bias().copy_(Tensor::from_vector({2}, {0.5f, -0.5f}));
  Tensor y = layer.forward(Tensor::from_vector({2, 3}, {1, 1, 1, 2, 0, -1}));
  require_close("linear", y, Tensor::from_vector({2, 2}, {6.5f, -0.5f, -0.5f, -3.5f}));
  REQUIRE(layer.describe() == "linear(3->2, bias=true)");
  auto state = layer.state_dict();
  REQUIRE(state.size() == 2);
  REQUIRE(state[0].first == "weight");
  REQUIRE(state[1].first == "bias");

  Generator init(1);
  Linear wide(400, 50, true, init);
  const float bound = 1.0f / 20.0f;  // 1/sqrt(in_features)
  float largest = 0.0f;
  for (float v : wide.weight().to_vector()) largest = std::max(largest, std::fabs(v));
  REQUIRE(largest <= bound);
  REQUIRE(largest > 0.95f * bound);
  for (float v : wide.bias().to_vector()) REQUIRE(std::fabs(v) <= bound);
  REQUIRE(Linear(4, 3, false, init).state_dict().size() == 1);
}

TEST_CASE("linear gradients pass the finite-difference check", "[linear][grad]") {
  Tensor x = random_input({3, 5}, 1), w = random_input({4, 5}, 2), b = random_input({4}, 3);
  check_gradients("linear", [](auto& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
  // Leading dimensions are rows too, as in torch.nn.Linear.
  Tensor x3 = random_input({2, 3, 5}, 4);
  check_gradients("linear 3-d", [](auto& in) { return linear(in[0], in[1], Tensor()); },
                  {x3, w});
}

TEST_CASE("linear rejects a mismatched input with the layer and the shape", "[linear][errors]") {
  Generator gen(0);
  Linear layer(10, 2, true, gen);
  REQUIRE_THROWS_WITH(layer.forward(Tensor::zeros({4, 9})),
                      Catch::Contains("linear(10->2") && Catch::Contains("[4, 9]"));
  REQUIRE_THROWS_WITH(layer.output_shape({4, 2, 5, 5}), Catch::Contains("flatten"));
  REQUIRE_THROWS_WITH(build_model(YAML::Load("layers: [{linear: {out_features: 10}}]"),
                                  {1, 3, 8, 8}, gen),
                      Catch::Contains("model.layers[0]") && Catch::Contains("flatten"));
}

TEST_CASE("flatten merges start_dim..end_dim like torch.nn.Flatten", "[flatten]") {
  Flatten flat;
  REQUIRE(flat.output_shape({2, 3, 4, 5}) == Shape{2, 60});
  REQUIRE(Flatten(1, 2).output_shape({2, 3, 4, 5}) == Shape{2, 12, 5});
  REQUIRE(Flatten(0).output_shape({2, 3, 4}) == Shape{24});
  Tensor x = random_input({2, 3, 2, 2}, 5);
  Tensor y = flat.forward(x);
  REQUIRE(y.shape() == Shape{2, 12});
  REQUIRE(y.at({1, 5}) == x.at({1, 1, 0, 1}));
  check_gradients("flatten", [](auto& in) { return Flatten().forward(in[0]); }, {x});
  REQUIRE_THROWS_WITH(Flatten(3).output_shape({2, 3}), Catch::Contains("flatten(start_dim=3"));
}

TEST_CASE("dropout zeroes with probability p, scales by 1/(1-p), and is identity in eval",
          "[dropout]") {
  Dropout layer(0.25f, 123);
  Tensor x = Tensor::ones({100, 100});
  Tensor y = layer.forward(x);
  int64_t zeros = 0;
  for (float v : y.to_vector()) {
    if (v == 0.0f) {
      ++zeros;
    } else {
      REQUIRE(v == Approx(1.0f / 0.75f));
    }
  }
  REQUIRE(zeros > 2300);  // 2500 expected; 10000 draws, std 43
  REQUIRE(zeros < 2700);
  // A fresh mask each call, the same masks again after reseeding.
  Tensor again = layer.forward(x);
  REQUIRE(again.to_vector() != y.to_vector());
  layer.generator().seed(123);
  REQUIRE(layer.forward(x).to_vector() == y.to_vector());

  layer.eval();
  REQUIRE(layer.forward(x).same_as(x));
  REQUIRE(Dropout(1.0f, 0).forward(x).to_vector() == std::vector<float>(10000, 0.0f));
  REQUIRE(Dropout(0.0f, 0).forward(x).same_as(x));
  REQUIRE_THROWS_WITH(Dropout(1.5f, 0), Catch::Contains("dropout") && Catch::Contains("1.5"));
}

TEST_CASE("dropout's gradient (a fixed mask) passes the finite-difference check",
          "[dropout][grad]") {
  auto layer = std::make_shared<Dropout>(0.4f, 9);
  Tensor x = random_input({4, 6}, 6);
  // Reseeding inside f makes every evaluation draw the same mask.
  check_gradients("dropout",
                  [layer](auto& in) {
                    layer->generator().seed(9);
                    return layer->forward(in[0]);
                  },
                  {x});
}

TEST_CASE("a classifier head builds from YAML, and dropout seeds from the model generator",
          "[linear][dropout][flatten][registry]") {
  const char* config = R"(
layers:
  - global_avgpool2d: {}
  - flatten: {}
  - dropout: {p: 0.2}
  - linear: {out_features: 32}
  - relu: {}
  - linear: {out_features: 10, bias: false}
)";
  Generator gen(4), same(4);
  auto net = build_model(YAML::Load(config), {1, 16, 8, 8}, gen);
  auto twin = build_model(YAML::Load(config), {1, 16, 8, 8}, same);
  REQUIRE(net->output_shape({5, 16, 8, 8}) == Shape{5, 10});
  REQUIRE(net->at(2)->describe() == "dropout(p=0.2)");
  REQUIRE(net->at(3)->describe() == "linear(16->32, bias=true)");
  auto names = net->state_dict();
  REQUIRE(names.size() == 3);
  REQUIRE(names[0].first == "3.weight");
  REQUIRE(names[2].first == "5.weight");
  REQUIRE(names[2].second.shape() == Shape{10, 32});
  Tensor x = random_input({5, 16, 8, 8}, 8);
  REQUIRE(net->forward(x).to_vector() == twin->forward(x).to_vector());  // same seeds
  REQUIRE_THROWS_WITH(build_model(YAML::Load("layers: [{dropout: {p: 2}}]"), {1, 4}, gen),
                      Catch::Contains("model.layers[0].dropout.p"));
}
