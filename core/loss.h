// Classification loss and metrics on logits [N,K] and int64 labels [N].
#pragma once

#include "core/tensor.h"

namespace cnn {

// Softmax cross-entropy from logits, mean over the batch, as
// torch.nn.functional.cross_entropy(logits, labels, label_smoothing=...): the target is
// (1 - label_smoothing) * one_hot + label_smoothing / K. Stable (log-sum-exp with the row
// maximum subtracted). Differentiable in the logits: d loss / d logits = (softmax - target) / N.
// A label outside [0, K) is an error naming its index and value.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing = 0.0f);

// Top-1: how many rows have their largest logit (first one on ties) at the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// count_correct / N (0 for an empty batch).
double accuracy(const Tensor& logits, const Tensor& labels);

}  // namespace cnn
