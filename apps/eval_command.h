// `cnnlab eval`: test loss and accuracy, per-class accuracy and the confusion matrix of
// saved weights, optionally with batch statistics (the train/eval pitfall) or with BN
// folded into the convolutions.
#pragma once

#include <string>

#include "apps/config.h"

namespace cnn {

int run_eval_command(const Config& config, const std::string& weights, bool json,
                     bool use_batch_stats, int64_t batch_size, bool fold_bn);

}  // namespace cnn
