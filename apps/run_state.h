// Where a run stands, and the files that let --resume continue it exactly: the checkpoint
// (checkpoint.safetensors, the latest weights with PyTorch names) and state.safetensors
// (weights, optimizer state, every dropout layer's generator, and the position below as
// metadata), both written atomically.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "apps/train_step.h"
#include "layers/dropout.h"
#include "layers/module.h"
#include "optim/optimizer.h"

namespace cnn {

inline const char* kCheckpointFile = "checkpoint.safetensors";
inline const char* kBestFile = "best.safetensors";
inline const char* kStateFile = "state.safetensors";

// Running sums of the current epoch's training steps.
struct EpochSums {
  int64_t images = 0, correct = 0, steps = 0;
  double loss_sum = 0.0, step_seconds = 0.0;
  double loop_seconds = 0.0;  // wall time of the training loop, waiting for data included
  void add(const TrainStepResult& step, double step_seconds, double loop_seconds);
};

struct RunPosition {
  int64_t epoch = 0;  // the epoch in progress, from 0
  int64_t batch = 0;  // its next batch
  int64_t step = 0;   // optimizer steps taken
  double best_test_acc = -1.0;
  EpochSums sums;     // of the epoch in progress
  int64_t run_id = -1;  // the run's row in the store; -1 in a state written before it was kept
  double first_loss = 0.0;  // the run's first step's loss (divergence_factor's reference); 0 = none yet
  // A collapse (predictions in one class, or accuracy at chance) that has lasted through
  // every evaluation since the end of step collapsed_step; -1 = none now.
  int64_t collapsed_step = -1;
  std::string collapse_reason;
  // The processes of the data-parallel run that wrote it (its batches are global batches of
  // world_size * data.batch_size samples); 1 in a state written before it was kept.
  int64_t world_size = 1;
};

// Each Dropout layer with its module path ("features.4"): resume is exact only if their
// generators cross the checkpoint too.
using DropoutLayers = std::vector<std::pair<std::string, Dropout*>>;
DropoutLayers find_dropout_layers(Module& model);

// Writes checkpoint.safetensors and state.safetensors into `run_dir`.
void save_run_state(const std::string& run_dir, const Module& model, const Optimizer& optimizer,
                    const DropoutLayers& dropouts, const RunPosition& position);
// Restores the model, optimizer and dropout generators from `run_dir`/state.safetensors and
// returns the position saved with them. Errors name the file and what is wrong.
RunPosition load_run_state(const std::string& run_dir, Module& model, Optimizer& optimizer,
                           const DropoutLayers& dropouts);

// Loads weights and buffers (BN running statistics) into `model` from `path`: a
// checkpoint.safetensors or best.safetensors, a state.safetensors (its "model." tensors; the
// optimizer state and position are not read), or a run folder (its checkpoint). Every name
// and shape must match; errors start with `where` and name the file and the tensor. Returns
// the file read.
std::string load_weights_from(Module& model, const std::string& path, const std::string& where);

}  // namespace cnn
