// Schedules against PyTorch's schedulers, built through make_schedule from the fixture's
// config: epoch schedules stepped per epoch and per iteration, cosine per iteration,
// warmup as LinearLR chained with the main schedule, OneCycleLR; plus the closed forms
// at chosen steps and the schedules' own errors.
#include <catch2/catch.hpp>
#include <cmath>

#include "optim/factory.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/optim/optim_test_util.h"

using namespace cnn;

namespace {
void check_fixture_schedule(const std::string& name) {
  for (const auto& item : cnn::testing::schedule_fixture()["cases"]) {
    if (item["name"].as<std::string>() != name) continue;
    const int64_t steps_per_epoch = item["steps_per_epoch"].as<int64_t>();
    const int64_t epochs = item["epochs"].as<int64_t>();
    auto schedule =
        make_schedule(item["config"], item["base_lr"].as<double>(), steps_per_epoch, epochs);
    const auto lrs = item["lrs"].as<std::vector<double>>();
    REQUIRE(static_cast<int64_t>(lrs.size()) == steps_per_epoch * epochs);
    for (size_t t = 0; t < lrs.size(); ++t) {
      INFO(name << " (" << schedule->describe() << ") at step " << t);
      REQUIRE(schedule->lr_at(static_cast<int64_t>(t)) ==
              Approx(lrs[t]).epsilon(1e-9).margin(1e-15));
    }
    return;
  }
  FAIL("no schedule fixture case '" << name << "'; rerun make_optim_fixtures.py");
}
}  // namespace

TEST_CASE("constant schedule", "[optim][schedule][pytorch]") { check_fixture_schedule("constant"); }

TEST_CASE("step schedule equals StepLR stepped per epoch and per iteration",
          "[optim][schedule][pytorch]") {
  check_fixture_schedule("step_per_epoch");
  check_fixture_schedule("step_per_iteration");
}

TEST_CASE("multistep schedule equals MultiStepLR per epoch and per iteration",
          "[optim][schedule][pytorch]") {
  check_fixture_schedule("multistep_per_epoch");
  check_fixture_schedule("multistep_per_iteration");
}

TEST_CASE("exponential schedule equals ExponentialLR stepped per epoch",
          "[optim][schedule][pytorch]") {
  check_fixture_schedule("exponential_per_epoch");
}

TEST_CASE("cosine schedule equals CosineAnnealingLR(T_max = all iterations)",
          "[optim][schedule][pytorch]") {
  check_fixture_schedule("cosine");
  check_fixture_schedule("cosine_one_step_per_epoch");
}

TEST_CASE("warmup equals LinearLR chained with the main schedule", "[optim][schedule][pytorch]") {
  check_fixture_schedule("cosine_warmup_epochs");
  check_fixture_schedule("step_warmup_steps");
  check_fixture_schedule("multistep_warmup_fractional_epochs");
  check_fixture_schedule("constant_warmup");
}

TEST_CASE("onecycle schedule equals OneCycleLR (cos, no momentum cycling)",
          "[optim][schedule][pytorch]") {
  check_fixture_schedule("onecycle_defaults");
  check_fixture_schedule("onecycle_custom");
}

TEST_CASE("epoch schedules are exact inside epochs", "[optim][schedule]") {
  StepSchedule step(1.0, 3, 0.1, 10);  // decays at iterations 30, 60, ...
  REQUIRE(step.lr_at(29) == 1.0);
  REQUIRE(step.lr_at(30) == Approx(0.1));
  REQUIRE(step.lr_at(61) == Approx(0.01));
  MultiStepSchedule multistep(1.0, {2, 4}, 0.5, 7);
  REQUIRE(multistep.lr_at(13) == 1.0);
  REQUIRE(multistep.lr_at(14) == 0.5);
  REQUIRE(multistep.lr_at(28) == 0.25);
  ExponentialSchedule exponential(2.0, 0.5, 4);
  REQUIRE(exponential.lr_at(3) == 2.0);
  REQUIRE(exponential.lr_at(4) == 1.0);
  REQUIRE(exponential.lr_at(11) == 0.5);
}

TEST_CASE("cosine and onecycle hold their final value after the run", "[optim][schedule]") {
  CosineSchedule cosine(0.1, 10, 0.001);
  REQUIRE(cosine.lr_at(10) == Approx(0.001));
  REQUIRE(cosine.lr_at(25) == Approx(0.001));
  REQUIRE(cosine.lr_at(5) == Approx(0.0505));
  OneCycleSchedule onecycle(0.1, 10);
  REQUIRE(onecycle.lr_at(0) == Approx(0.1 / 25));
  REQUIRE(onecycle.lr_at(9) == Approx(0.1 / 25 / 1e4));
  REQUIRE(onecycle.lr_at(50) == Approx(0.1 / 25 / 1e4));
}

TEST_CASE("warmup composes with onecycle by multiplying", "[optim][schedule]") {
  auto inner = std::make_unique<OneCycleSchedule>(0.1, 20);
  const double at_2 = inner->lr_at(2);
  const double at_8 = inner->lr_at(8);
  WarmupSchedule warm(std::move(inner), 4, 0.0);
  REQUIRE(warm.lr_at(0) == 0.0);
  REQUIRE(warm.lr_at(2) == Approx(at_2 * 0.5));
  REQUIRE(warm.lr_at(8) == Approx(at_8));
}

TEST_CASE("apply sets every group's lr and reports it", "[optim][schedule]") {
  Tensor a = Tensor::zeros({1}).set_requires_grad();
  Tensor b = Tensor::zeros({1}).set_requires_grad();
  ParamGroup first{{a}, {"a"}};
  ParamGroup second{{b}, {"b"}};
  second.lr = 0.5;
  SGD sgd({first, second}, {.lr = 0.1});
  REQUIRE(sgd.lr(1) == 0.5);
  CosineSchedule cosine(0.1, 4);
  REQUIRE(cosine.apply(sgd, 2) == Approx(0.05));
  REQUIRE(sgd.lr(0) == Approx(0.05));
  REQUIRE(sgd.lr(1) == Approx(0.05));
  sgd.scale_lr(0.5);  // relative to each group's own base lr
  REQUIRE(sgd.lr(0) == Approx(0.05));
  REQUIRE(sgd.lr(1) == Approx(0.25));
  REQUIRE(sgd.base_lr(1) == 0.5);
}

TEST_CASE("schedules reject impossible settings", "[optim][schedule][errors]") {
  REQUIRE_THROWS_WITH(StepSchedule(0.1, 0, 0.1, 10), Catch::Contains("step_size must be > 0"));
  REQUIRE_THROWS_WITH(MultiStepSchedule(0.1, {3, 2}, 0.1, 10),
                      Catch::Contains("milestones must increase"));
  REQUIRE_THROWS_WITH(ExponentialSchedule(0.1, 0.9, 0), Catch::Contains("steps_per_epoch"));
  REQUIRE_THROWS_WITH(CosineSchedule(0.1, 0), Catch::Contains("> 0 steps"));
  REQUIRE_THROWS_WITH(OneCycleSchedule(0.1, 10, 1.5), Catch::Contains("pct_start"));
  REQUIRE_THROWS_WITH(ConstantSchedule(0.1).lr_at(-1), Catch::Contains("must be >= 0"));
  REQUIRE_THROWS_WITH(WarmupSchedule(std::make_unique<ConstantSchedule>(0.1), 5, 2.0),
                      Catch::Contains("start_factor must be in [0, 1]"));
}
