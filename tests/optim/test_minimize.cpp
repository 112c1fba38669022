// End to end: SGD (momentum) and Adam each fit a small MLP to a fixed teacher network, and
// the full loop with cnnlab's own gradients tracks PyTorch's run on the fixture problem.
#include <catch2/catch.hpp>

#include "core/random.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;

namespace {
// y = relu(x A^T) B^T from a fixed random teacher; x [64,4], y [64,1].
struct Regression {
  Tensor x, y;
};

Regression teacher_data() {
  Generator gen(2024);
  Tensor x = randn({64, 4}, gen);
  Tensor a = randn({6, 4}, gen), b = randn({1, 6}, gen);
  Tensor y = matmul(relu(matmul(x, a, false, true)), b, false, true);
  return {x, y};
}

// A 4-16-1 student MLP: w1 [16,4], b1 [16], w2 [1,16], b2 [1].
std::vector<Tensor> student(uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> p = {Tensor::empty({16, 4}), Tensor::zeros({16}), Tensor::empty({1, 16}),
                           Tensor::zeros({1})};
  kaiming_uniform_(p[0], gen);
  kaiming_uniform_(p[2], gen);
  for (Tensor& t : p) t.set_requires_grad();
  return p;
}

Tensor mse(const Regression& data, const std::vector<Tensor>& p) {
  Tensor out =
      add(matmul(relu(add(matmul(data.x, p[0], false, true), p[1])), p[2], false, true), p[3]);
  Tensor diff = sub(out, data.y);
  return mean(mul(diff, diff));
}

// Returns {first loss, last loss} over `steps` full-batch steps.
std::pair<float, float> fit(Optimizer& optimizer, const std::vector<Tensor>& params,
                            const Regression& data, const Schedule& schedule, int steps) {
  float first = 0, last = 0;
  for (int t = 0; t < steps; ++t) {
    schedule.apply(optimizer, t);
    optimizer.zero_grad();
    Tensor loss = mse(data, params);
    if (t == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    clip_grad_norm(params, 10.0);
    optimizer.step();
  }
  return {first, last};
}
}  // namespace

TEST_CASE("sgd with momentum fits a small MLP", "[optim][minimize]") {
  const Regression data = teacher_data();
  const std::vector<Tensor> params = student(1);
  SGD sgd({ParamGroup{params}}, {.lr = 0.02, .momentum = 0.9});
  auto [first, last] = fit(sgd, params, data, CosineSchedule(0.02, 400), 400);
  INFO("loss " << first << " -> " << last);
  REQUIRE(last < 0.05f);
  REQUIRE(last < 0.02f * first);
}

TEST_CASE("adam fits a small MLP", "[optim][minimize]") {
  const Regression data = teacher_data();
  const std::vector<Tensor> params = student(1);
  Adam adam({ParamGroup{params}}, {.lr = 0.02});
  auto [first, last] = fit(adam, params, data, ConstantSchedule(0.02), 400);
  INFO("loss " << first << " -> " << last);
  REQUIRE(last < 0.05f);
  REQUIRE(last < 0.02f * first);
}

TEST_CASE("the full loop with cnnlab's gradients tracks PyTorch's run",
          "[optim][minimize][pytorch]") {
  const YAML::Node problem = cnn::testing::optim_fixture()["problem"];
  const Tensor x = cnn::testing::tensor_from(problem["x_shape"], problem["x"]);
  const Tensor y = cnn::testing::tensor_from(problem["y_shape"], problem["y"]);
  for (const std::string name : {"sgd_nesterov", "adam", "adamw"}) {
    ParamGroup group;
    for (const auto& key : problem["param_order"]) {
      const std::string k = key.as<std::string>();
      group.params.push_back(cnn::testing::tensor_from(problem["shapes"][k], problem["initial"][k])
                                 .set_requires_grad());
      group.names.push_back(k);
    }
    std::unique_ptr<Optimizer> optimizer;
    if (name == "sgd_nesterov")
      optimizer = std::make_unique<SGD>(std::vector<ParamGroup>{group},
                                        SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
    else if (name == "adam")
      optimizer = std::make_unique<Adam>(std::vector<ParamGroup>{group}, AdamOptions{.lr = 0.01});
    else
      optimizer = std::make_unique<AdamW>(std::vector<ParamGroup>{group}, [] {
        AdamWOptions o;
        o.lr = 0.01;
        o.weight_decay = 0.1;
        return o;
      }());
    const YAML::Node steps = cnn::testing::fixture_case(name)["steps"];
    for (size_t s = 0; s < steps.size(); ++s) {
      optimizer->zero_grad();
      cnn::testing::two_layer_loss(x, y, group.params).backward();
      optimizer->step();
    }
    // Gradients differ from PyTorch's by float rounding, so the tolerance is looser.
    const YAML::Node last = steps[steps.size() - 1]["params"];
    for (size_t i = 0; i < group.params.size(); ++i)
      cnn::testing::require_close(name + " " + group.names[i], group.params[i],
                                  last[group.names[i]].as<std::vector<float>>(), 1e-4, 1e-6);
  }
}
