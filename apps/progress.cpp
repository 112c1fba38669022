// Progress bar and periodic log lines.
#include "apps/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace cnn {

Progress::Progress(int64_t epoch, int64_t epochs, int64_t batches, int64_t log_every, bool quiet)
    : epoch_(epoch), epochs_(epochs), batches_(batches), log_every_(log_every),
      terminal_(isatty(STDOUT_FILENO)), quiet_(quiet), start_(std::chrono::steady_clock::now()) {}

double Progress::images_per_second() const {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return seconds > 0 ? seen_ / seconds : 0.0;
}

void Progress::update(int64_t batch_index, int64_t batch_size, double loss, int64_t correct) {
  seen_ += batch_size;
  correct_ += correct;
  loss_sum_ += loss * batch_size;
  ++steps_;
  if (quiet_) return;
  int64_t done = batch_index + 1;
  double rate = images_per_second();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double eta = steps_ > 0 ? elapsed / steps_ * (batches_ - done) : 0.0;
  if (terminal_) {
    const int width = 24;
    int filled = batches_ > 0 ? static_cast<int>(width * done / batches_) : width;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::printf("\repoch %ld/%ld [%s] %ld/%ld  eta %4.0fs  %6.0f img/s  loss %.4f  acc %.3f ",
                (long)epoch_ + 1, (long)epochs_, bar.c_str(), (long)done, (long)batches_, eta, rate,
                running_loss(), running_accuracy());
    std::fflush(stdout);
  } else if (done % log_every_ == 0 || done == batches_) {
    spdlog::info("epoch {}/{} step {}/{}  loss {:.4f}  acc {:.3f}  {:.0f} img/s  eta {:.0f}s",
                 epoch_ + 1, epochs_, done, batches_, running_loss(), running_accuracy(), rate, eta);
  }
}

void Progress::finish() {
  if (terminal_ && !quiet_) std::printf("\n");
}

}  // namespace cnn
