// Per-epoch progress: a live bar on a terminal (batches, ETA, images/s, running loss and
// accuracy), plain periodic log lines otherwise (files, CI, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cnn {

class Progress {
 public:
  Progress(int64_t epoch, int64_t epochs, int64_t batches, int64_t log_every, bool quiet);
  // Called after each step with that batch's size, loss and correct count.
  void update(int64_t batch_index, int64_t batch_size, double loss, int64_t correct);
  void finish();
  double running_loss() const { return seen_ ? loss_sum_ / seen_ : 0.0; }
  double running_accuracy() const { return seen_ ? static_cast<double>(correct_) / seen_ : 0.0; }
  double images_per_second() const;

 private:
  int64_t epoch_, epochs_, batches_, log_every_;
  bool terminal_, quiet_;
  int64_t seen_ = 0, correct_ = 0, steps_ = 0;
  double loss_sum_ = 0.0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cnn
