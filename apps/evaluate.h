// Evaluation: test loss, accuracy, per-class accuracy and the confusion matrix, in eval
// mode without recording a tape. Optionally with BN's batch statistics instead of its
// running ones, to show the classic train/eval pitfall in numbers.
#pragma once

#include <string>
#include <vector>

#include "data/loader.h"
#include "layers/module.h"

namespace cnn {

struct EvalResult {
  double loss = 0.0;
  double accuracy = 0.0;
  int64_t images = 0;
  std::vector<double> per_class_accuracy;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::string to_json(const std::vector<std::string>& class_names) const;
};

// Runs every batch of `loader` (epoch 0, no augmentation expected). With
// use_batch_stats, normalization layers run in training mode (their running statistics
// are left as they were) while everything else stays in eval mode.
EvalResult evaluate(Module& model, DataLoader& loader, int64_t num_classes,
                    bool use_batch_stats = false);

// Puts every batch-norm layer of `model` in training mode (the rest stays as it is).
void set_batchnorm_training(Module& model, bool training);

}  // namespace cnn
