// Cross-entropy forward and its fused backward (softmax - target), plus top-1 metrics.
#include "core/loss.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/parallel.h"

namespace cnn {

namespace {

// Checks logits [N,K] and labels int64 [N] with every label in [0, K).
void check_batch(const char* op, const Tensor& logits, const Tensor& labels) {
  CNN_CHECK(logits.dim() == 2, op, ": expected logits [N, K], got ", shape_str(logits.shape()));
  CNN_CHECK(logits.dtype() == DType::Float32, op, ": expected float32 logits, got ",
            dtype_name(logits.dtype()));
  CNN_CHECK(labels.dtype() == DType::Int64, op, ": expected int64 labels, got ",
            dtype_name(labels.dtype()));
  CNN_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), op, ": expected labels [",
            logits.size(0), "] for logits ", shape_str(logits.shape()), ", got ",
            shape_str(labels.shape()));
  const int64_t K = logits.size(1);
  Tensor l = labels.contiguous();
  const int64_t* pl = l.data_i64();
  for (int64_t i = 0; i < l.numel(); ++i)
    CNN_CHECK(pl[i] >= 0 && pl[i] < K, op, ": label ", pl[i], " at index ", i,
              " is outside [0, ", K, ") for logits ", shape_str(logits.shape()));
}

}  // namespace

// logits [N,K], labels [N] -> scalar loss; saves softmax [N,K] for the backward.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing) {
  check_batch("cross_entropy", logits, labels);
  CNN_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f,
            "cross_entropy: label_smoothing must be between 0 and 1, got ", label_smoothing);
  const int64_t N = logits.size(0), K = logits.size(1);
  CNN_CHECK(N > 0 && K > 0, "cross_entropy: empty logits ", shape_str(logits.shape()));
  Tensor x = logits.contiguous(), l = labels.contiguous();
  Tensor probabilities = Tensor::empty({N, K});
  const float* px = x.data();
  const int64_t* pl = l.data_i64();
  float* pp = probabilities.data();
  const double off = label_smoothing / K, on = 1.0 - label_smoothing;
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (N * K > kParallelMinElements)
  for (int64_t n = 0; n < N; ++n) {
    const float* row = px + n * K;
    const float peak = *std::max_element(row, row + K);
    double sum_exp = 0.0, sum_logits = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      pp[n * K + k] = std::exp(row[k] - peak);
      sum_exp += pp[n * K + k];
      sum_logits += row[k];
    }
    const double log_z = peak + std::log(sum_exp);  // log sum_k exp(x_k)
    for (int64_t k = 0; k < K; ++k) pp[n * K + k] = static_cast<float>(pp[n * K + k] / sum_exp);
    // -sum_k target_k log p_k with log p_k = x_k - log_z
    total += on * (log_z - row[pl[n]]) + off * (K * log_z - sum_logits);
  }
  Tensor loss = Tensor::scalar(static_cast<float>(total / N));

  return record_op("cross_entropy", loss, {logits},
                   [probabilities, l, N, K, on, off](const Tensor& grad_output) {
                     // d/dx = (softmax - target) / N, scaled by the incoming scalar gradient.
                     const float scale = grad_output.item() / static_cast<float>(N);
                     Tensor dx = Tensor::empty({N, K});
                     const float* pp = probabilities.data();
                     const int64_t* pl = l.data_i64();
                     float* pd = dx.data();
                     for (int64_t n = 0; n < N; ++n)
                       for (int64_t k = 0; k < K; ++k) {
                         const double target = off + (k == pl[n] ? on : 0.0);
                         pd[n * K + k] = static_cast<float>((pp[n * K + k] - target) * scale);
                       }
                     return std::vector<Tensor>{dx};
                   });
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  check_batch("count_correct", logits, labels);
  const int64_t N = logits.size(0), K = logits.size(1);
  Tensor x = logits.contiguous(), l = labels.contiguous();
  const float* px = x.data();
  const int64_t* pl = l.data_i64();
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = px + n * K;
    correct += (std::max_element(row, row + K) - row) == pl[n];
  }
  return correct;
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  const int64_t N = logits.dim() >= 1 ? logits.size(0) : 0;
  const int64_t correct = count_correct(logits, labels);
  return N == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(N);
}

}  // namespace cnn
