// The `optim:` and `schedule:` config sections: what each key builds, the defaults, and
// every error path naming the key.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "optim/adam.h"
#include "optim/factory.h"
#include "optim/sgd.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;
using Catch::Contains;

namespace {
// A conv2d's weight and bias and a batchnorm2d's weight and bias, as a model would name them;
// weight decay spares all but the conv weight (what no_decay_parameter_names finds there).
std::vector<NamedTensor> small_model_parameters() {
  auto parameter = [](const Shape& shape) { return Tensor::zeros(shape).set_requires_grad(); };
  return {{"0.weight", parameter({4, 3, 3, 3})},
          {"0.bias", parameter({4})},
          {"1.weight", parameter({4})},
          {"1.bias", parameter({4})}};
}
const std::vector<std::string> kNoDecay = {"0.bias", "1.weight", "1.bias"};

std::unique_ptr<Optimizer> make_optimizer_over_small_model(const YAML::Node& optim,
                                                           const std::string& path = "optim") {
  return make_optimizer(optim, small_model_parameters(), kNoDecay, path);
}

std::unique_ptr<Optimizer> optimizer_from(const std::string& yaml) {
  return make_optimizer_over_small_model(YAML::Load(yaml));
}

std::unique_ptr<Schedule> schedule_from(const std::string& yaml, int64_t steps_per_epoch = 10,
                                        int64_t epochs = 5) {
  return make_schedule(YAML::Load(yaml), 0.1, steps_per_epoch, epochs);
}
}  // namespace

TEST_CASE("make_optimizer builds sgd with every key", "[optim][factory]") {
  auto optimizer = optimizer_from(
      "{name: sgd, lr: 0.2, momentum: 0.9, dampening: 0, nesterov: true, weight_decay: 5e-4,"
      " exclude_norm_and_bias: true}");
  auto* sgd = dynamic_cast<SGD*>(optimizer.get());
  REQUIRE(sgd);
  REQUIRE(sgd->lr() == 0.2);
  REQUIRE(sgd->options().momentum == 0.9);
  REQUIRE(sgd->options().nesterov);
  REQUIRE(sgd->groups().size() == 2);
  REQUIRE(sgd->groups()[0].names == std::vector<std::string>{"0.weight"});
  REQUIRE(*sgd->groups()[0].weight_decay == 5e-4);
  REQUIRE(*sgd->groups()[1].weight_decay == 0.0);
  REQUIRE(sgd->describe() == "sgd(lr=0.2, momentum=0.9, nesterov, weight_decay=0.0005)");
}

TEST_CASE("make_optimizer builds adam and adamw with PyTorch's defaults", "[optim][factory]") {
  auto adam = optimizer_from("{name: adam}");
  REQUIRE(adam->type() == "adam");
  REQUIRE(adam->lr() == 1e-3);
  REQUIRE(*adam->groups()[0].weight_decay == 0.0);
  REQUIRE(adam->groups().size() == 1);
  REQUIRE(adam->groups()[0].params.size() == 4);

  auto adamw = optimizer_from("adamw");  // a bare name is enough
  REQUIRE(adamw->type() == "adamw");
  REQUIRE(dynamic_cast<AdamW*>(adamw.get()));
  REQUIRE(*adamw->groups()[0].weight_decay == 1e-2);

  auto custom = optimizer_from(
      "{name: adam, lr: 3e-4, betas: [0.8, 0.99], eps: 1.0e-6, amsgrad: true, weight_decay: 0.1}");
  const AdamOptions& options = dynamic_cast<Adam&>(*custom).options();
  REQUIRE(options.beta1 == 0.8);
  REQUIRE(options.beta2 == 0.99);
  REQUIRE(options.eps == 1e-6);
  REQUIRE(options.amsgrad);
  REQUIRE(custom->describe() ==
          "adam(lr=0.0003, betas=(0.8, 0.99), eps=1e-06, weight_decay=0.1, amsgrad)");
}

TEST_CASE("make_optimizer errors name the key", "[optim][factory][errors]") {
  REQUIRE_THROWS_WITH(optimizer_from("{name: sgd, lr: 0.1, momentum: abc}"),
                      "optim.momentum: expected a number, found 'abc'");
  REQUIRE_THROWS_WITH(optimizer_from("{name: sgd, lr: 0.1, nesterov: true}"),
                      Contains("optim.nesterov: nesterov needs momentum > 0 and dampening 0 "
                               "(as PyTorch)"));
  REQUIRE_THROWS_WITH(optimizer_from("{name: sgd, lr: 0.1, momentum: 0.9, dampening: 0.1, "
                                     "nesterov: true}"),
                      Contains("optim.nesterov:"));
  REQUIRE_THROWS_WITH(optimizer_from("{name: sgd}"), Contains("optim.lr: this key is required"));
  REQUIRE_THROWS_WITH(optimizer_from("{name: rmsprop}"),
                      "optim.name: unknown optimizer 'rmsprop' (known: sgd, adam, adamw)");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, momentum: 0.9}"),
                      Contains("optim.momentum: adam does not use this key (adam keys: name, lr,"));
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, learning_rate: 0.1}"),
                      Contains("optim.learning_rate: unknown key (optim keys: name, lr,"));
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, betas: 0.9}"),
                      "optim.betas: expected a list of 2 numbers, found '0.9'");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, betas: [0.9, 1.0]}"),
                      "optim.betas[1]: must be in [0, 1), got 1");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, betas: [0.9, x]}"),
                      "optim.betas[1]: expected a number, found 'x'");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, amsgrad: maybe}"),
                      "optim.amsgrad: expected true or false, found 'maybe'");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adamw, weight_decay: -1}"),
                      "optim.weight_decay: must be >= 0, got -1");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, lr: [1]}"),
                      "optim.lr: expected a number, found a list");
  REQUIRE_THROWS_WITH(optimizer_from("{name: adam, lr: .nan}"),
                      Contains("optim.lr: expected a finite number"));
  REQUIRE_THROWS_WITH(optimizer_from("{lr: 0.1}"), Contains("optim.name: this key is required"));
  REQUIRE_THROWS_WITH(make_optimizer_over_small_model(YAML::Node()),
                      Contains("optim: expected a mapping with at least `name`"));
  REQUIRE_THROWS_WITH(make_optimizer_over_small_model(YAML::Load("[sgd]"), "train.optim"),
                      Contains("train.optim: expected a mapping"));
}

TEST_CASE("make_schedule builds constant when absent, else the named schedule with warmup",
          "[optim][factory]") {
  REQUIRE(make_schedule(YAML::Node(), 0.1, 10, 5)->describe() == "constant(lr=0.1)");
  REQUIRE(schedule_from("cosine")->describe() == "cosine(lr=0.1 to eta_min=0 over 50 steps)");
  REQUIRE(schedule_from("{name: step, step_size: 2}")->lr_at(20) == Approx(0.01));
  REQUIRE(schedule_from("{name: multistep, milestones: [1, 3], gamma: 0.5}")->lr_at(35) ==
          Approx(0.025));
  REQUIRE(schedule_from("{name: onecycle}")->lr_at(0) == Approx(0.1 / 25));
  REQUIRE(schedule_from("{name: onecycle, max_lr: 1.0}")->lr_at(0) == Approx(1.0 / 25));
  auto warm = schedule_from("{name: cosine, warmup_epochs: 0.5}");
  REQUIRE(warm->describe() ==
          "cosine(lr=0.1 to eta_min=0 over 50 steps) with linear warmup over 5 steps from "
          "0.333333x");
  REQUIRE(warm->lr_at(0) == Approx(0.1 / 3));
  REQUIRE(schedule_from("{name: exponential, gamma: 0.9, warmup_steps: 3, "
                        "warmup_start_factor: 0}")
              ->lr_at(0) == 0.0);
}

TEST_CASE("make_schedule errors name the key", "[optim][factory][errors]") {
  REQUIRE_THROWS_WITH(schedule_from("{name: poly}"),
                      Contains("schedule.name: unknown schedule 'poly' (known: constant, step,"));
  REQUIRE_THROWS_WITH(schedule_from("{name: step}"),
                      Contains("schedule.step_size: this key is required for the step schedule"));
  REQUIRE_THROWS_WITH(schedule_from("{name: step, step_size: 1.5}"),
                      "schedule.step_size: expected an integer, found '1.5'");
  REQUIRE_THROWS_WITH(schedule_from("{name: step, step_size: 0}"),
                      "schedule.step_size: must be > 0 epochs, got 0");
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, step_size: 2}"),
                      Contains("schedule.step_size: cosine does not use this key (cosine keys:"));
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, T_max: 2}"),
                      Contains("schedule.T_max: unknown key (schedule keys: name, step_size,"));
  REQUIRE_THROWS_WITH(schedule_from("{name: multistep}"),
                      Contains("schedule.milestones: this key is required"));
  REQUIRE_THROWS_WITH(schedule_from("{name: multistep, milestones: 3}"),
                      "schedule.milestones: expected a list of integers, found '3'");
  REQUIRE_THROWS_WITH(schedule_from("{name: multistep, milestones: [3, 2]}"),
                      "schedule.milestones[1]: milestones must increase, but 2 follows 3");
  REQUIRE_THROWS_WITH(schedule_from("{name: multistep, milestones: [3, x]}"),
                      "schedule.milestones[1]: expected an integer, found 'x'");
  REQUIRE_THROWS_WITH(schedule_from("{name: exponential}"),
                      Contains("schedule.gamma: this key is required for the exponential"));
  REQUIRE_THROWS_WITH(schedule_from("{name: exponential, gamma: 0}"),
                      "schedule.gamma: must be > 0, got 0");
  REQUIRE_THROWS_WITH(schedule_from("{name: onecycle, pct_start: 1}"),
                      Contains("schedule.pct_start: must be between 0 and 1"));
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, warmup_epochs: 1, warmup_steps: 3}"),
                      "schedule.warmup_steps: give warmup_epochs or warmup_steps, not both");
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, warmup_epochs: 6}"),
                      "schedule.warmup_epochs: the warmup (60 steps) is longer than the run "
                      "(5 epochs of 10 steps = 50 steps)");
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, warmup_start_factor: 0.1}"),
                      Contains("schedule.warmup_start_factor: has no effect without"));
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, warmup_steps: 2, warmup_start_factor: 2}"),
                      "schedule.warmup_start_factor: must be in [0, 1], got 2");
  REQUIRE_THROWS_WITH(schedule_from("{name: cosine, eta_min: -0.1}"),
                      "schedule.eta_min: must be >= 0, got -0.1");
  REQUIRE_THROWS_WITH(schedule_from("cosine", 0, 5), Contains("at least one step per epoch"));
  REQUIRE_THROWS_WITH(schedule_from("[cosine]"),
                      Contains("schedule: expected a mapping (or just a name"));
}

TEST_CASE("the key lists cover every key the factories read", "[optim][factory]") {
  std::vector<std::string> optim_names, schedule_names;
  for (const KeySpec& key : optimizer_keys()) optim_names.push_back(key.name);
  for (const KeySpec& key : schedule_keys()) schedule_names.push_back(key.name);
  REQUIRE(optim_names == std::vector<std::string>{"name", "lr", "momentum", "dampening", "nesterov",
                                                  "weight_decay", "betas", "eps", "amsgrad",
                                                  "exclude_norm_and_bias"});
  REQUIRE(schedule_names == std::vector<std::string>{"name", "step_size", "gamma", "milestones",
                                                     "eta_min", "max_lr", "pct_start", "div_factor",
                                                     "final_div_factor", "warmup_epochs",
                                                     "warmup_steps", "warmup_start_factor"});
  for (const KeySpec& key : optimizer_keys()) REQUIRE_FALSE(key.help.empty());
  for (const KeySpec& key : schedule_keys()) REQUIRE_FALSE(key.help.empty());
}
