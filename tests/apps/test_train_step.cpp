// The one training step: what it computes equals the step written out by hand (loss with
// label smoothing, backward, clipping, SGD), a non-finite loss leaves the weights alone, and
// the hooks run at their places.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "apps/train_step.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "layers/linear.h"
#include "core/loss.h"
#include "layers/sequential.h"
#include "optim/clip_grad.h"
#include "optim/schedule.h"
#include "optim/sgd.h"

using namespace cnn;

namespace {

struct Net {
  std::shared_ptr<Sequential> model = std::make_shared<Sequential>();
  std::unique_ptr<SGD> sgd;
  explicit Net(uint64_t seed, double lr) {
    Generator generator(seed);
    model->append(std::make_shared<Linear>(6, 4, true, generator));
    ParamGroup group;
    for (auto& [name, t] : model->named_parameters()) {
      group.params.push_back(t);
      group.names.push_back(name);
    }
    sgd = std::make_unique<SGD>(std::vector<ParamGroup>{group}, SGDOptions{.lr = lr, .momentum = 0.9});
  }
};

Batch batch_of(uint64_t seed, float scale = 1.0f) {
  Generator generator(seed);
  Batch batch{randn({5, 6}, generator), Tensor::from_int64({5}, {0, 1, 2, 3, 1})};
  if (scale != 1.0f) batch.images = mul_scalar(batch.images, scale);
  return batch;
}

}  // namespace

TEST_CASE("train_step equals the step written out by hand", "[apps][train_step]") {
  Net stepped(7, 0.1), by_hand(7, 0.1);
  const Batch batch = batch_of(11);
  const StepSchedule schedule(0.1, 1, 0.5, 1);  // lr 0.1, then halved every step
  const TrainStepOptions options{.label_smoothing = 0.1f, .clip_grad_norm = 0.05};
  for (int64_t step = 0; step < 3; ++step) {
    TrainStepResult result = train_step(*stepped.model, *stepped.sgd, &schedule, step, batch, options);

    by_hand.sgd->set_lr(schedule.lr_at(step));
    Tensor logits = by_hand.model->forward(batch.images);
    Tensor loss = cross_entropy(logits, batch.labels, 0.1f);
    by_hand.sgd->zero_grad();
    loss.backward();
    std::vector<Tensor> params;
    for (auto& [name, t] : by_hand.model->named_parameters()) params.push_back(t);
    clip_grad_norm(params, 0.05);
    by_hand.sgd->step();

    CHECK(result.loss == loss.item());
    CHECK(result.lr == schedule.lr_at(step));
    CHECK(result.images == 5);
    CHECK(result.correct == count_correct(logits, batch.labels));
    CHECK_FALSE(result.diverged());
  }
  auto a = stepped.model->state_dict(), b = by_hand.model->state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to_vector());
}

TEST_CASE("train_step: a non-finite loss is a divergence and the weights stay", "[apps][train_step]") {
  Net net(3, 0.1);
  const std::vector<float> before = net.model->state_dict()[0].second.to_vector();
  Batch batch = batch_of(5, std::numeric_limits<float>::infinity());
  TrainStepResult result = train_step(*net.model, *net.sgd, nullptr, 0, batch, {});
  CHECK(result.diverged());
  CHECK_THAT(result.divergence, Catch::Contains("the loss is"));
  CHECK(net.model->state_dict()[0].second.to_vector() == before);
}

TEST_CASE("train_step: the hooks run around forward and after backward", "[apps][train_step]") {
  Net net(3, 0.1);
  std::string order;
  TrainStepHooks hooks{[&] { order += "before "; }, [&] { order += "after "; },
                       [&] {
                         order += "backward";
                         CHECK(net.model->named_parameters()[0].second.grad().defined());
                       }};
  train_step(*net.model, *net.sgd, nullptr, 0, batch_of(5), {}, hooks);
  CHECK(order == "before after backward");
}
