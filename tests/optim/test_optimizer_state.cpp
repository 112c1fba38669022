// Saving and restoring an optimizer's state: a run interrupted, restored into fresh
// parameters and a fresh optimizer, and continued is bit-identical to an uninterrupted
// run (SGD with momentum, Adam with AMSGrad, AdamW, under a cosine schedule); a state
// that does not fit is rejected with a clear error and changes nothing.
#include <catch2/catch.hpp>

#include "core/random.h"
#include "optim/adam.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;

namespace {
using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<ParamGroup>)>;

struct Run {
  std::vector<Tensor> params;
  std::unique_ptr<Optimizer> optimizer;
};

const std::vector<std::string> kNames = {"w1", "b1", "w2", "b2"};

std::vector<Tensor> initial_params() {
  Generator gen(7);
  std::vector<Tensor> params = {randn({4, 3}, gen), randn({4}, gen), randn({2, 4}, gen),
                                randn({2}, gen)};
  for (Tensor& p : params) p.set_requires_grad();
  return params;
}

Run start(const std::vector<Tensor>& values, const MakeOptimizer& make) {
  Run run;
  for (const Tensor& v : values) run.params.push_back(v.clone().set_requires_grad());
  // Two groups, so the state names must not depend on the grouping.
  run.optimizer = make({ParamGroup{{run.params[0], run.params[2]}, {"w1", "w2"}},
                        ParamGroup{{run.params[1], run.params[3]}, {"b1", "b2"}}});
  return run;
}

void train(Run& run, int64_t from, int64_t to, const Schedule& schedule) {
  Generator gen(11);
  const Tensor x = randn({8, 3}, gen), y = randn({8, 2}, gen);
  for (int64_t t = from; t < to; ++t) {
    schedule.apply(*run.optimizer, t);
    run.optimizer->zero_grad();
    // A different batch every step, as the data loader would give.
    Tensor xt = add_scalar(x, 0.1f * static_cast<float>(t % 3));
    cnn::testing::two_layer_loss(xt, y,
                                 {run.params[0], run.params[1], run.params[2], run.params[3]})
        .backward();
    run.optimizer->step();
  }
}

void check_resume(const MakeOptimizer& make) {
  const std::vector<Tensor> init = initial_params();
  CosineSchedule schedule(0.05, 12);

  Run whole = start(init, make);
  train(whole, 0, 12, schedule);

  Run first = start(init, make);
  train(first, 0, 5, schedule);
  const std::vector<NamedTensor> saved = first.optimizer->state_tensors();
  std::vector<Tensor> saved_params;
  for (const Tensor& p : first.params) saved_params.push_back(p.clone());
  first.optimizer.reset();  // nothing survives but what was saved

  Run second = start(saved_params, make);
  second.optimizer->load_state_tensors(saved);
  REQUIRE(second.optimizer->steps_taken() == 5);
  train(second, 5, 12, schedule);

  for (size_t i = 0; i < whole.params.size(); ++i)
    cnn::testing::require_identical(kNames[i], second.params[i], whole.params[i]);
  // The restored state went on exactly as the uninterrupted one.
  const auto a = whole.optimizer->state_tensors(), b = second.optimizer->state_tensors();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].first == b[i].first);
    if (a[i].second.dtype() == DType::Int64)
      REQUIRE(a[i].second.to_int64_vector() == b[i].second.to_int64_vector());
    else
      cnn::testing::require_identical(a[i].first, a[i].second, b[i].second);
  }
}

std::vector<NamedTensor> adam_state_after_one_step(Tensor& p) {
  Adam adam({ParamGroup{{p}, {"p"}}}, {});
  p.set_grad(Tensor::ones(p.shape()));
  adam.step();
  return adam.state_tensors();
}
}  // namespace

TEST_CASE("sgd with momentum resumes bit-identically", "[optim][state]") {
  check_resume([](std::vector<ParamGroup> groups) -> std::unique_ptr<Optimizer> {
    return std::make_unique<SGD>(std::move(groups),
                                 SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
  });
}

TEST_CASE("adam (amsgrad) and adamw resume bit-identically", "[optim][state]") {
  check_resume([](std::vector<ParamGroup> groups) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Adam>(std::move(groups), AdamOptions{.amsgrad = true});
  });
  check_resume([](std::vector<ParamGroup> groups) -> std::unique_ptr<Optimizer> {
    return std::make_unique<AdamW>(std::move(groups), AdamWOptions());
  });
}

TEST_CASE("state tensors are copies named by parameter", "[optim][state]") {
  Tensor p = Tensor::ones({2, 2}).set_requires_grad();
  SGD sgd({ParamGroup{{p}, {"0.weight"}}}, {.lr = 0.1, .momentum = 0.9});
  p.set_grad(Tensor::ones({2, 2}));
  sgd.step();
  auto state = sgd.state_tensors();
  REQUIRE(state.size() == 2);
  REQUIRE(state[0].first == "optimizer.steps");
  REQUIRE(state[1].first == "param.0.weight.momentum_buffer");
  state[1].second.fill_(100.0f);  // must not reach the optimizer
  sgd.step();
  REQUIRE(p.at({0, 0}) == Approx(1.0f - 0.1f - 0.1f * 1.9f));
  // Parameter names may contain dots; the field is the last part.
  Tensor q = Tensor::ones({2, 2}).set_requires_grad();
  SGD other({ParamGroup{{q}, {"0.weight"}}}, {.lr = 0.1, .momentum = 0.9});
  REQUIRE_NOTHROW(other.load_state_tensors(sgd.state_tensors()));
  REQUIRE(other.steps_taken() == 2);
}

TEST_CASE("loading a state that does not fit is an error that changes nothing",
          "[optim][state][errors]") {
  Tensor p = Tensor::ones({3}).set_requires_grad();
  const std::vector<NamedTensor> adam_state = adam_state_after_one_step(p);

  Tensor q = Tensor::ones({3}).set_requires_grad();
  SGD sgd({ParamGroup{{q}, {"p"}}}, {.lr = 0.1, .momentum = 0.9});
  REQUIRE_THROWS_WITH(sgd.load_state_tensors(adam_state),
                      Catch::Contains("holds a field 'step'") &&
                          Catch::Contains("sgd(lr=0.1, momentum=0.9") &&
                          Catch::Contains("its fields: momentum_buffer"));

  Adam adam({ParamGroup{{q}, {"p"}}}, {});
  q.set_grad(Tensor::full({3}, 2.0f));
  adam.step();
  const std::vector<NamedTensor> before = adam.state_tensors();

  std::vector<NamedTensor> wrong_shape = adam_state;
  for (auto& [name, tensor] : wrong_shape)
    if (name == "param.p.exp_avg") tensor = Tensor::zeros({4});
  REQUIRE_THROWS_WITH(adam.load_state_tensors(wrong_shape),
                      Catch::Contains("'param.p.exp_avg' is float32 [4]") &&
                          Catch::Contains("parameter is float32 [3]"));

  std::vector<NamedTensor> unknown_param = adam_state;
  unknown_param.emplace_back("param.fc.weight.exp_avg", Tensor::zeros({3}));
  REQUIRE_THROWS_WITH(adam.load_state_tensors(unknown_param),
                      Catch::Contains("parameter 'fc.weight' that this optimizer does not have"));

  std::vector<NamedTensor> incomplete;
  for (auto& entry : adam_state)
    if (entry.first != "param.p.exp_avg_sq") incomplete.push_back(entry);
  REQUIRE_THROWS_WITH(adam.load_state_tensors(incomplete),
                      Catch::Contains("not 'param.p.exp_avg_sq'; the state is incomplete"));

  REQUIRE_THROWS_WITH(adam.load_state_tensors({{"momentum", Tensor::zeros({3})}}),
                      Catch::Contains("unexpected tensor 'momentum'"));

  Adam amsgrad({ParamGroup{{q}, {"p"}}}, {.amsgrad = true});
  REQUIRE_THROWS_WITH(amsgrad.load_state_tensors(adam_state),
                      Catch::Contains("not 'param.p.max_exp_avg_sq'"));

  // Every failed load left the state as it was.
  const std::vector<NamedTensor> after = adam.state_tensors();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i)
    if (after[i].second.dtype() == DType::Float32)
      cnn::testing::require_identical(after[i].first, after[i].second, before[i].second);
}
