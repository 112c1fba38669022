// Learning-rate schedules, stepped once per optimizer iteration. Epoch-based schedules
// are built with steps_per_epoch, so they are exact at every iteration:
//   StepSchedule: lr(t) = base_lr * gamma^floor(t / (step_size * steps_per_epoch))
// and a WarmupSchedule multiplies any of them by a linear ramp (PyTorch's LinearLR
// chained with the other scheduler).
//
//   auto schedule = cnn::make_schedule(config["schedule"], 0.1, loader.size(), epochs);
//   for (int64_t t = 0; ...; ++t) { schedule->apply(optimizer, t); ... optimizer.step(); }
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace cnn {

class Schedule {
 public:
  virtual ~Schedule() = default;
  // The learning rate for optimizer iteration `step` (0 for the first update).
  virtual double lr_at(int64_t step) const = 0;
  virtual std::string describe() const = 0;
  // Sets every parameter group's lr to lr_at(step) and returns it (for logging).
  double apply(Optimizer& optimizer, int64_t step) const;
};

// PyTorch's defaults for the schedules' optional settings, which are also the YAML keys'
// defaults (optim/factory.cpp's schedule_keys() prints them).
struct ScheduleDefaults {
  static constexpr double gamma = 0.1;  // StepLR, MultiStepLR
  static constexpr double eta_min = 0.0;
  static constexpr double pct_start = 0.3;
  static constexpr double div_factor = 25.0;
  static constexpr double final_div_factor = 1e4;
  static constexpr double warmup_start_factor = 1.0 / 3.0;  // LinearLR's start_factor
};

// lr(t) = base_lr.
class ConstantSchedule : public Schedule {
 public:
  explicit ConstantSchedule(double base_lr);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_;
};

// torch StepLR stepped per epoch: decays by gamma every step_size epochs.
class StepSchedule : public Schedule {
 public:
  StepSchedule(double base_lr, int64_t step_size_epochs, double gamma, int64_t steps_per_epoch);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_, gamma_;
  int64_t step_size_epochs_, steps_per_epoch_;
};

// torch MultiStepLR stepped per epoch: decays by gamma at each milestone epoch.
class MultiStepSchedule : public Schedule {
 public:
  MultiStepSchedule(double base_lr, std::vector<int64_t> milestone_epochs, double gamma,
                    int64_t steps_per_epoch);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_, gamma_;
  std::vector<int64_t> milestone_epochs_;  // strictly increasing
  int64_t steps_per_epoch_;
};

// torch ExponentialLR stepped per epoch: lr = base_lr * gamma^epoch.
class ExponentialSchedule : public Schedule {
 public:
  ExponentialSchedule(double base_lr, double gamma, int64_t steps_per_epoch);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_, gamma_;
  int64_t steps_per_epoch_;
};

// torch CosineAnnealingLR(T_max = total_steps) stepped per iteration (its closed form):
// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T)) / 2, held at eta_min after T.
class CosineSchedule : public Schedule {
 public:
  CosineSchedule(double base_lr, int64_t total_steps, double eta_min = ScheduleDefaults::eta_min);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  double base_lr_, eta_min_;
  int64_t total_steps_;
};

// torch OneCycleLR (Smith & Topin 2017) with anneal_strategy 'cos', two phases and no
// momentum cycling (cycle_momentum=False): from max_lr / div_factor up to max_lr over
// pct_start of the run, then down to max_lr / div_factor / final_div_factor.
class OneCycleSchedule : public Schedule {
 public:
  OneCycleSchedule(double max_lr, int64_t total_steps,
                   double pct_start = ScheduleDefaults::pct_start,
                   double div_factor = ScheduleDefaults::div_factor,
                   double final_div_factor = ScheduleDefaults::final_div_factor);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  double max_lr_, initial_lr_, min_lr_, pct_start_;
  double div_factor_, final_div_factor_;
  int64_t total_steps_;
};

// Multiplies `inner` by a linear ramp from start_factor (step 0) to 1 (step warmup_steps
// and after): torch ChainedScheduler([LinearLR(start_factor, total_iters=warmup_steps),
// inner]). The inner schedule keeps its own clock, so milestones stay where they were.
class WarmupSchedule : public Schedule {
 public:
  WarmupSchedule(std::unique_ptr<Schedule> inner, int64_t warmup_steps,
                 double start_factor = ScheduleDefaults::warmup_start_factor);
  double lr_at(int64_t step) const override;
  std::string describe() const override;

 private:
  std::unique_ptr<Schedule> inner_;
  int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace cnn
