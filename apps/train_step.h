// One training step, the one definition every caller shares (`cnnlab train`, `cnnlab bench`,
// the distributed trainer): the schedule's learning rate, forward, loss (with label
// smoothing), backward, gradient clipping, optimizer step. Recording, checkpoints and
// progress hang off its result, not off the step.
//
//   TrainStepResult r = train_step(model, optimizer, schedule.get(), step, batch, options);
//   if (r.diverged()) ...;  // the optimizer did not step
#pragma once

#include <functional>
#include <string>

#include "data/loader.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace cnn {

struct TrainStepOptions {
  float label_smoothing = 0.0f;
  double clip_grad_norm = 0.0;  // global L2 norm; 0 = off
  bool check_finite = false;    // every gradient and buffer checked for NaN/inf (nan_check)
  // A finite loss above this is a divergence too (a blow-up that has not reached inf yet);
  // 0 = none. The epoch loop sets it to train.divergence_factor times the first step's loss.
  double max_loss = 0.0;
};

// Places to look into a step from outside: layer statistics watch the forward and read the
// gradients; a data-parallel trainer averages the gradients across ranks after backward.
struct TrainStepResult;
struct TrainStepHooks {
  std::function<void()> before_forward, after_forward;
  std::function<void()> after_backward;  // before the finiteness check, clipping and the update
  // With the loss, before its finiteness check: a data-parallel trainer makes the loss and
  // accuracy the global batch's, so every rank decides alike whether to go on.
  std::function<void(TrainStepResult&)> after_loss = nullptr;
};

struct TrainStepResult {
  double lr = 0.0, loss = 0.0;
  int64_t images = 0, correct = 0;
  // Why the step stopped short of the update ("the loss is nan", "the gradient of '3.weight'
  // holds NaN or inf"), or, after the update, why the buffers are unusable; empty otherwise.
  std::string divergence;
  bool diverged() const { return !divergence.empty(); }
  double accuracy() const { return images ? static_cast<double>(correct) / images : 0.0; }
};

// `step` is the global optimizer step from 0; with `schedule` null the optimizer keeps its lr.
// The model must be in training mode. A non-finite loss, or one above max_loss, skips
// backward and the update.
TrainStepResult train_step(Module& model, Optimizer& optimizer, const Schedule* schedule,
                           int64_t step, const Batch& batch, const TrainStepOptions& options,
                           const TrainStepHooks& hooks = {});

}  // namespace cnn
