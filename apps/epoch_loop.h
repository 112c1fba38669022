// One epoch of training: its batches through train_step, each step handed to the recorder,
// checkpoints on the configured cadence, the stop signal and max_steps honoured at step
// boundaries, then (with bn_mode reestimate, after the BN statistics are recomputed) the
// test-set evaluation and the epoch's record.
#pragma once

#include <functional>

#include "apps/config.h"
#include "apps/distributed.h"
#include "apps/layer_stats.h"
#include "apps/run_recorder.h"
#include "apps/run_state.h"
#include "data/loader.h"
#include "layers/sequential.h"

namespace cnn {

// What an epoch works with; everything is owned by the caller.
struct TrainingParts {
  Sequential& model;
  Optimizer& optimizer;
  const Schedule& schedule;
  DataLoader& train_loader;
  DataLoader& test_loader;
  int64_t num_classes = 0;
  const TrainSettings& settings;
  bool quiet = false;
  LayerStatsRecorder* layer_stats = nullptr;  // null when train.layer_stats_every is 0
  std::function<void()> save_checkpoint;      // writes the state at `position`
  DataParallel* data_parallel = nullptr;      // under mpirun: gradients averaged over ranks
  // train.bn_mode reestimate: BN statistics recomputed on these batches before every
  // evaluation (apps/bn_mode.h); null otherwise.
  DataLoader* statistics_loader = nullptr;
};

struct EpochOutcome {
  enum class End { kEpochDone, kOutOfSteps, kDiverged, kInterrupted } end = End::kEpochDone;
  std::string divergence;  // kDiverged: why
  int64_t diverged_step = -1;
  EpochRecord record;      // filled when the epoch reached its evaluation (done or out of steps)
  std::string collapse;    // why the evaluation says the network collapsed; empty when it did not
};

// Trains epoch `position.epoch` from batch `position.batch` (resumed sums included) and
// advances `position` step by step. `recorder` is null on the ranks other than 0 of a
// data-parallel run (rank 0 records).
EpochOutcome train_epoch(TrainingParts& parts, RunPosition& position, RunRecorder* recorder);

}  // namespace cnn
