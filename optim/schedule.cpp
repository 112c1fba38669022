// The schedules' closed forms. PyTorch's schedulers update the lr recursively; the closed
// forms agree with them to rounding (tests/optim/test_schedule.cpp checks against them).
#include "optim/schedule.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace cnn {

using optim_detail::format_number;

namespace {
void check_step(int64_t step, const char* name) {
  CNN_CHECK(step >= 0, name, " schedule: the step must be >= 0, got ", step);
}
void check_steps_per_epoch(int64_t steps_per_epoch, const char* name) {
  CNN_CHECK(steps_per_epoch > 0, name, " schedule: steps_per_epoch must be > 0, got ",
            steps_per_epoch);
}
}  // namespace

double Schedule::apply(Optimizer& optimizer, int64_t step) const {
  const double lr = lr_at(step);
  optimizer.set_lr(lr);
  return lr;
}

// --- constant ---------------------------------------------------------------------------

ConstantSchedule::ConstantSchedule(double base_lr) : base_lr_(base_lr) {}

double ConstantSchedule::lr_at(int64_t step) const {
  check_step(step, "constant");
  return base_lr_;
}

std::string ConstantSchedule::describe() const {
  return "constant(lr=" + format_number(base_lr_) + ")";
}

// --- step -------------------------------------------------------------------------------

StepSchedule::StepSchedule(double base_lr, int64_t step_size_epochs, double gamma,
                           int64_t steps_per_epoch)
    : base_lr_(base_lr),
      gamma_(gamma),
      step_size_epochs_(step_size_epochs),
      steps_per_epoch_(steps_per_epoch) {
  CNN_CHECK(step_size_epochs > 0, "step schedule: step_size must be > 0 epochs, got ",
            step_size_epochs);
  check_steps_per_epoch(steps_per_epoch, "step");
  CNN_CHECK(step_size_epochs <= std::numeric_limits<int64_t>::max() / steps_per_epoch,
            "step schedule: step_size of ", step_size_epochs, " epochs of ", steps_per_epoch,
            " steps is more steps than int64 counts");
}

double StepSchedule::lr_at(int64_t step) const {
  check_step(step, "step");
  const int64_t decays = step / (step_size_epochs_ * steps_per_epoch_);
  return base_lr_ * std::pow(gamma_, static_cast<double>(decays));
}

std::string StepSchedule::describe() const {
  return "step(lr=" + format_number(base_lr_) + ", step_size=" + std::to_string(step_size_epochs_) +
         " epochs, gamma=" + format_number(gamma_) + ")";
}

// --- multistep --------------------------------------------------------------------------

MultiStepSchedule::MultiStepSchedule(double base_lr, std::vector<int64_t> milestone_epochs,
                                     double gamma, int64_t steps_per_epoch)
    : base_lr_(base_lr),
      gamma_(gamma),
      milestone_epochs_(std::move(milestone_epochs)),
      steps_per_epoch_(steps_per_epoch) {
  check_steps_per_epoch(steps_per_epoch, "multistep");
  for (size_t i = 0; i < milestone_epochs_.size(); ++i) {
    CNN_CHECK(milestone_epochs_[i] > 0, "multistep schedule: milestones[", i,
              "] must be an epoch > 0, got ", milestone_epochs_[i]);
    CNN_CHECK(i == 0 || milestone_epochs_[i] > milestone_epochs_[i - 1],
              "multistep schedule: milestones must increase, but milestones[", i,
              "] = ", milestone_epochs_[i], " follows ", milestone_epochs_[i - 1]);
    CNN_CHECK(milestone_epochs_[i] <= std::numeric_limits<int64_t>::max() / steps_per_epoch,
              "multistep schedule: milestones[", i, "] = ", milestone_epochs_[i], " epochs of ",
              steps_per_epoch, " steps is more steps than int64 counts");
  }
}

double MultiStepSchedule::lr_at(int64_t step) const {
  check_step(step, "multistep");
  int64_t decays = 0;
  for (int64_t epoch : milestone_epochs_) decays += step >= epoch * steps_per_epoch_;
  return base_lr_ * std::pow(gamma_, static_cast<double>(decays));
}

std::string MultiStepSchedule::describe() const {
  std::string milestones;
  for (int64_t epoch : milestone_epochs_)
    milestones += (milestones.empty() ? "" : ", ") + std::to_string(epoch);
  return "multistep(lr=" + format_number(base_lr_) + ", milestones=[" + milestones +
         "] epochs, gamma=" + format_number(gamma_) + ")";
}

// --- exponential ------------------------------------------------------------------------

ExponentialSchedule::ExponentialSchedule(double base_lr, double gamma, int64_t steps_per_epoch)
    : base_lr_(base_lr), gamma_(gamma), steps_per_epoch_(steps_per_epoch) {
  check_steps_per_epoch(steps_per_epoch, "exponential");
}

double ExponentialSchedule::lr_at(int64_t step) const {
  check_step(step, "exponential");
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / steps_per_epoch_));
}

std::string ExponentialSchedule::describe() const {
  return "exponential(lr=" + format_number(base_lr_) + ", gamma=" + format_number(gamma_) +
         " per epoch)";
}

// --- cosine -----------------------------------------------------------------------------

CosineSchedule::CosineSchedule(double base_lr, int64_t total_steps, double eta_min)
    : base_lr_(base_lr), eta_min_(eta_min), total_steps_(total_steps) {
  CNN_CHECK(total_steps > 0, "cosine schedule: the run must have > 0 steps, got ", total_steps);
}

double CosineSchedule::lr_at(int64_t step) const {
  check_step(step, "cosine");
  const double t = static_cast<double>(std::min(step, total_steps_));
  return eta_min_ + (base_lr_ - eta_min_) *
                        (1.0 + std::cos(std::numbers::pi * t / static_cast<double>(total_steps_))) /
                        2.0;
}

std::string CosineSchedule::describe() const {
  return "cosine(lr=" + format_number(base_lr_) + " to eta_min=" + format_number(eta_min_) +
         " over " + std::to_string(total_steps_) + " steps)";
}

// --- one-cycle --------------------------------------------------------------------------

OneCycleSchedule::OneCycleSchedule(double max_lr, int64_t total_steps, double pct_start,
                                   double div_factor, double final_div_factor)
    : max_lr_(max_lr),
      initial_lr_(max_lr / div_factor),
      min_lr_(max_lr / div_factor / final_div_factor),
      pct_start_(pct_start),
      div_factor_(div_factor),
      final_div_factor_(final_div_factor),
      total_steps_(total_steps) {
  CNN_CHECK(total_steps > 0, "onecycle schedule: the run must have > 0 steps, got ", total_steps);
  CNN_CHECK(pct_start >= 0.0 && pct_start <= 1.0,
            "onecycle schedule: pct_start must be in [0, 1], got ", pct_start);
  CNN_CHECK(div_factor > 0.0, "onecycle schedule: div_factor must be > 0, got ", div_factor);
  CNN_CHECK(final_div_factor > 0.0, "onecycle schedule: final_div_factor must be > 0, got ",
            final_div_factor);
}

double OneCycleSchedule::lr_at(int64_t step) const {
  check_step(step, "onecycle");
  // PyTorch's two phases end at these (fractional) steps; after the run the lr stays at
  // its last value instead of raising as PyTorch does.
  const double t = static_cast<double>(std::min(step, total_steps_ - 1));
  const double warm_end = pct_start_ * static_cast<double>(total_steps_) - 1.0;
  const double last = static_cast<double>(total_steps_ - 1);
  double start = initial_lr_, end = max_lr_, from = 0.0, to = warm_end;
  if (t > warm_end) start = max_lr_, end = min_lr_, from = warm_end, to = last;
  const double pct = to > from ? (t - from) / (to - from) : 1.0;
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

std::string OneCycleSchedule::describe() const {
  return "onecycle(max_lr=" + format_number(max_lr_) + ", pct_start=" + format_number(pct_start_) +
         ", div_factor=" + format_number(div_factor_) +
         ", final_div_factor=" + format_number(final_div_factor_) + ", " +
         std::to_string(total_steps_) + " steps)";
}

// --- warmup -----------------------------------------------------------------------------

WarmupSchedule::WarmupSchedule(std::unique_ptr<Schedule> inner, int64_t warmup_steps,
                               double start_factor)
    : inner_(std::move(inner)), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  CNN_CHECK(inner_, "warmup: needs a schedule to warm up");
  CNN_CHECK(warmup_steps >= 0, "warmup: warmup steps must be >= 0, got ", warmup_steps);
  CNN_CHECK(start_factor >= 0.0 && start_factor <= 1.0,
            "warmup: start_factor must be in [0, 1], got ", start_factor);
}

double WarmupSchedule::lr_at(int64_t step) const {
  check_step(step, "warmup");
  double factor = 1.0;
  if (step < warmup_steps_)
    factor = start_factor_ +
             (1.0 - start_factor_) * static_cast<double>(step) / static_cast<double>(warmup_steps_);
  return inner_->lr_at(step) * factor;
}

std::string WarmupSchedule::describe() const {
  return inner_->describe() + " with linear warmup over " + std::to_string(warmup_steps_) +
         " steps from " + format_number(start_factor_) + "x";
}

}  // namespace cnn
