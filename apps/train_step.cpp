// The training step (see train_step.h).
#include "apps/train_step.h"

#include <cmath>

#include "core/autograd.h"
#include "core/loss.h"
#include "optim/clip_grad.h"

namespace cnn {

namespace {

bool all_finite(const Tensor& t) {
  if (t.dtype() != DType::Float32) return true;
  Tensor c = t.contiguous();
  const float* p = c.data();
  for (int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// The first parameter whose gradient holds NaN or inf, as a sentence; empty when none.
std::string non_finite_gradient(const std::vector<NamedTensor>& parameters) {
  for (const auto& [name, t] : parameters)
    if (t.grad().defined() && !all_finite(t.grad()))
      return "the gradient of '" + name + "' holds NaN or inf";
  return "";
}

std::string non_finite_buffer(const Module& model) {
  for (const auto& [name, t] : model.named_buffers())
    if (!all_finite(t)) return "the buffer '" + name + "' (running statistics) holds NaN or inf";
  return "";
}

void call(const std::function<void()>& hook) {
  if (hook) hook();
}

}  // namespace

TrainStepResult train_step(Module& model, Optimizer& optimizer, const Schedule* schedule,
                           int64_t step, const Batch& batch, const TrainStepOptions& options,
                           const TrainStepHooks& hooks) {
  TrainStepResult result;
  if (schedule) optimizer.set_lr(schedule->lr_at(step));
  result.lr = optimizer.lr();

  call(hooks.before_forward);
  Tensor logits = model.forward(batch.images);
  call(hooks.after_forward);
  Tensor loss = cross_entropy(logits, batch.labels, options.label_smoothing);
  result.loss = loss.item();
  result.images = batch.labels.numel();
  result.correct = count_correct(logits, batch.labels);
  if (hooks.after_loss) hooks.after_loss(result);
  if (!std::isfinite(result.loss)) {
    result.divergence = "the loss is " + std::to_string(result.loss);
    return result;
  }
  if (options.max_loss > 0 && result.loss > options.max_loss) {
    result.divergence = "the loss " + std::to_string(result.loss) + " exceeds " +
                        std::to_string(options.max_loss) +
                        " (train.divergence_factor times the first step's loss)";
    return result;
  }

  optimizer.zero_grad();
  loss.backward();
  call(hooks.after_backward);
  if (options.check_finite || options.clip_grad_norm > 0) {
    const std::vector<NamedTensor> parameters = model.named_parameters();
    if (options.check_finite) {
      result.divergence = non_finite_gradient(parameters);
      if (result.diverged()) return result;
    }
    if (options.clip_grad_norm > 0) {
      std::vector<Tensor> tensors;
      for (const auto& [name, t] : parameters) tensors.push_back(t);
      clip_grad_norm(tensors, options.clip_grad_norm);
    }
  }
  optimizer.step();
  if (options.check_finite) result.divergence = non_finite_buffer(model);
  return result;
}

}  // namespace cnn
