// The epoch loop (see epoch_loop.h).
#include "apps/epoch_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "apps/bn_mode.h"
#include "apps/evaluate.h"
#include "apps/progress.h"
#include "apps/signals.h"

namespace cnn {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TrainStepOptions step_options(const TrainSettings& settings, const RunPosition& position) {
  return {static_cast<float>(settings.label_smoothing), settings.clip_grad_norm,
          settings.nan_check == "every_step", settings.divergence_factor * position.first_loss};
}

// A network that predicts one class for the whole test set, or whose accuracy stays within
// two points of chance (among the classes the test set holds), has collapsed (dead ReLUs after a
// blow-up, a classifier pushed to one output): a finding, not an error. Empty when it has not.
std::string collapse_of(const EvalResult& test, int64_t num_classes) {
  if (test.images == 0 || num_classes < 2) return "";
  for (size_t c = 0; c < test.confusion.size(); ++c) {
    int64_t predicted = 0;
    for (const auto& row : test.confusion) predicted += row[c];
    if (predicted == test.images)
      return "every test image is predicted as class " + std::to_string(c);
  }
  // Chance among the classes the test set holds (data.classes may keep 5 of CIFAR-10's 10).
  int64_t present = 0;
  for (const auto& row : test.confusion)
    for (int64_t count : row)
      if (count > 0) {
        ++present;
        break;
      }
  const double chance = 1.0 / static_cast<double>(std::max<int64_t>(present, 1));
  if (test.accuracy < chance + 0.02)
    return "test accuracy " + std::to_string(test.accuracy) + " is at chance (" +
           std::to_string(chance) + ")";
  return "";
}

// Layer statistics on every layer_stats_every-th step: the forward's outputs and the gradients.
TrainStepHooks layer_stats_hooks(TrainingParts& parts, int64_t step) {
  if (!parts.layer_stats || step % parts.settings.layer_stats_every != 0) return {};
  LayerStatsRecorder& stats = *parts.layer_stats;
  Sequential& model = parts.model;
  return {[&stats, &model, step] { stats.attach(model, step); },
          [&stats, &model] { stats.detach(model); },
          [&stats, &model, step] { stats.record_gradients(model.named_parameters(), step); }};
}

// Evaluates the model on the test set and closes the epoch's record.
EpochRecord finish_epoch(TrainingParts& parts, const RunPosition& position,
                         Clock::time_point epoch_start, std::string& collapse) {
  const EpochSums& sums = position.sums;
  if (parts.statistics_loader) {
    const int layers = reestimate_bn_statistics(parts.model, *parts.statistics_loader);
    spdlog::info(
        "bn_mode reestimate: the running statistics of {} BN layers recomputed on {} "
        "training images",
        layers, parts.statistics_loader->size());
  }
  EvalResult test = evaluate(parts.model, parts.test_loader, parts.num_classes);
  collapse = collapse_of(test, parts.num_classes);
  EpochRecord record;
  record.epoch = position.epoch + 1;
  record.train_loss = sums.images ? sums.loss_sum / sums.images : 0;
  record.train_acc = sums.images ? static_cast<double>(sums.correct) / sums.images : 0;
  record.test_loss = test.loss;
  record.test_acc = test.accuracy;
  record.seconds = seconds_since(epoch_start);
  // images/s counts the waits for data too
  record.images_per_s = sums.loop_seconds > 0 ? sums.images / sums.loop_seconds : 0;
  record.step_seconds = sums.steps ? sums.step_seconds / sums.steps : 0;
  return record;
}

}  // namespace

EpochOutcome train_epoch(TrainingParts& parts, RunPosition& position, RunRecorder* recorder) {
  const TrainSettings& settings = parts.settings;
  TrainStepOptions options = step_options(settings, position);
  const int64_t steps_per_epoch = parts.train_loader.batches_per_epoch();
  const Clock::time_point epoch_start = Clock::now();
  parts.train_loader.begin_epoch(position.epoch, position.batch);
  Progress progress(position.epoch, settings.epochs, steps_per_epoch, settings.log_every,
                    parts.quiet);
  parts.model.train();
  EpochOutcome outcome;
  Clock::time_point loop_mark = Clock::now();
  while (auto batch = parts.train_loader.next()) {
    const Clock::time_point step_start = Clock::now();
    const int64_t step = position.step;
    TrainStepHooks hooks = layer_stats_hooks(parts, step);
    if (parts.data_parallel)
      parts.data_parallel->wrap(hooks, batch->labels.numel(),
                                parts.train_loader.global_batch_images(batch->index));
    TrainStepResult result = train_step(parts.model, parts.optimizer, &parts.schedule, step,
                                        *batch, options, hooks);
    // Under MPI the ranks' agreed answer, read once here; alone, the signal flag.
    const bool stop = parts.data_parallel ? parts.data_parallel->finish_step(result) : false;
    if (recorder) {
      recorder->on_step({position.epoch + 1, step, result.lr, result.loss, result.accuracy()});
      if (parts.layer_stats) recorder->on_layer_stats(parts.layer_stats->take_recent());
    }
    if (step == 0 && std::isfinite(result.loss)) {
      position.first_loss = result.loss;
      options.max_loss = settings.divergence_factor * result.loss;
    }
    if (result.diverged()) {
      progress.finish();
      spdlog::warn("diverged at step {} (epoch {}): {}; stopping the run", step,
                   position.epoch + 1, result.divergence);
      if (recorder) recorder->flush_steps();
      return {EpochOutcome::End::kDiverged, result.divergence, step, {}, ""};
    }
    position.sums.add(result, seconds_since(step_start), seconds_since(loop_mark));
    loop_mark = Clock::now();
    progress.update(position.batch, result.images, result.loss, result.correct);
    ++position.step;
    ++position.batch;
    if (parts.data_parallel ? stop : stop_requested()) {
      progress.finish();
      if (recorder) recorder->flush_steps();
      parts.save_checkpoint();
      if (recorder) recorder->on_checkpoint(kCheckpointFile, position.step);
      return {EpochOutcome::End::kInterrupted, "", -1, {}, ""};
    }
    if (settings.checkpoint_every > 0 && position.step % settings.checkpoint_every == 0) {
      parts.save_checkpoint();
      if (recorder) recorder->on_checkpoint(kCheckpointFile, position.step);
    }
    if (settings.max_steps > 0 && position.step >= settings.max_steps) {
      outcome.end = EpochOutcome::End::kOutOfSteps;
      break;
    }
  }
  progress.finish();
  if (recorder) recorder->flush_steps();
  outcome.record = finish_epoch(parts, position, epoch_start, outcome.collapse);
  return outcome;
}

}  // namespace cnn
