// Schedules whose step counts overflow int64, found by replaying huge values through the
// config fuzzer (fuzz/fuzz_config.cpp; UBSan: signed integer overflow in make_schedule and
// StepSchedule/MultiStepSchedule). Each is now an error naming the key.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "optim/factory.h"
#include "optim/schedule.h"

using namespace cnn;
using Catch::Contains;

namespace {
constexpr int64_t kHuge = int64_t{1} << 62;

std::string schedule_error(const std::string& yaml, int64_t steps_per_epoch, int64_t epochs) {
  try {
    make_schedule(YAML::Load(yaml), 0.1, steps_per_epoch, epochs, "schedule");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("A run whose total step count overflows int64 is refused", "[optim][fuzz]") {
  CHECK_THAT(schedule_error("{name: cosine}", 3, kHuge), Contains("more steps than int64 counts"));
  CHECK_THAT(schedule_error("{name: constant}", 3, kHuge), Contains("schedule: "));
  CHECK(schedule_error("{name: cosine}", 3, kHuge / 4).empty());  // big, but it fits
}

TEST_CASE("step_size and milestones that overflow int64 steps are refused", "[optim][fuzz]") {
  const std::string huge = std::to_string(kHuge);
  CHECK_THAT(schedule_error("{name: step, step_size: " + huge + "}", 3, 2),
             Contains("step_size of " + huge + " epochs"));
  CHECK_THAT(schedule_error("{name: multistep, milestones: [1, " + huge + "]}", 3, 2),
             Contains("milestones[1]"));
  CHECK_THROWS_AS(StepSchedule(0.1, kHuge, 0.5, 3), Error);
  CHECK_THROWS_AS(MultiStepSchedule(0.1, {kHuge}, 0.5, 3), Error);
  // At the limit the step counts still work.
  StepSchedule limit(0.1, std::numeric_limits<int64_t>::max() / 3, 0.5, 3);
  CHECK(limit.lr_at(1000) == 0.1);
}

TEST_CASE("A warmup in epochs too long to round is refused, not rounded", "[optim][fuzz]") {
  CHECK_THAT(schedule_error("{name: cosine, warmup_epochs: 1.0e300}", 3, 2),
             Contains("schedule.warmup_epochs: the warmup (9223372036854775807 steps)"));
  CHECK_THAT(schedule_error("{name: cosine, warmup_epochs: 2.5}", 3, 2),
             Contains("longer than the run"));
  CHECK(schedule_error("{name: cosine, warmup_epochs: 2}", 3, 2).empty());
}
