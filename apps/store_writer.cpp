// The store writer thread (see store_writer.h).
#include "apps/store_writer.h"

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace cnn {
namespace {

constexpr size_t kQueueCapacity = 1024;  // batches (each up to 200 steps' metrics)
constexpr size_t kBatchesPerWakeUp = 16;
constexpr std::chrono::milliseconds kFirstBackoff{200}, kMaxBackoff{5000};

}  // namespace

StoreWriter::StoreWriter(const std::string& url, const std::string& spool_path, bool optional)
    : url_(url), description_(RunStore::describe(url)), spool_(spool_path) {
  try {
    store_ = std::make_unique<RunStore>(url);
  } catch (const Error& error) {
    if (!optional)
      CNN_FAIL("cannot open the run store '", description_, "': ", error.what(),
               " (with --store-optional the run goes on and spools its records)");
    spdlog::warn(
        "the run store '{}' is unreachable ({}); the run goes on and its records are "
        "spooled in '{}' until it answers",
        description_, error.what(), spool_.path());
  }
  if (!spool_.empty()) spooled_ = spool_.read().size();
}

StoreWriter::~StoreWriter() {
  try {
    close(std::chrono::milliseconds(0));
  } catch (...) {
    // A destructor during unwinding: the spool keeps what could not be written.
  }
}

void StoreWriter::replay_spool() {
  if (!store_ || spool_.empty()) return;
  std::vector<StoreBatch> batches = spool_.take();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    spooled_ = 0;
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    try {
      store_->write(batches[i]);
    } catch (...) {
      // Back into the spool, the failed batch first (the order a run wrote them).
      spool_.append({batches.begin() + static_cast<std::ptrdiff_t>(i), batches.end()});
      std::lock_guard<std::mutex> lock(mutex_);
      spooled_ += batches.size() - i;
      throw;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    rows_written_ += batches[i].rows();
  }
}

void StoreWriter::start() {
  thread_ = std::thread([this] { run(); });
}

void StoreWriter::submit(StoreBatch batch) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() < kQueueCapacity) {
      queue_.push_back(std::move(batch));
      wake_.notify_one();
      return;
    }
  }
  // A full queue (a server slower than training for a long while): the batch goes straight
  // to the spool rather than making training wait.
  spool_.append({batch});
  std::lock_guard<std::mutex> lock(mutex_);
  ++spooled_;
}

size_t StoreWriter::close(std::chrono::milliseconds wait) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_ && !thread_.joinable()) return spooled_;
    closing_ = true;
    close_deadline_ = std::chrono::steady_clock::now() + wait;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!queue_.empty()) {  // never started: keep the batches
    spool_.append({queue_.begin(), queue_.end()});
    spooled_ += queue_.size();
    queue_.clear();
  }
  return spooled_;
}

size_t StoreWriter::rows_written() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rows_written_;
}

// A new connection once the backoff has passed; the spool replayed on it.
bool StoreWriter::reconnect() {
  if (store_) return true;
  if (std::chrono::steady_clock::now() < next_retry_) return false;
  try {
    store_ = std::make_unique<RunStore>(url_);
    replay_spool();
    spdlog::info("the run store '{}' answers again; the spooled records are written", description_);
    backoff_ = kFirstBackoff;
    return true;
  } catch (const std::exception&) {
    store_.reset();
    next_retry_ = std::chrono::steady_clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    return false;
  }
}

void StoreWriter::write_or_spool(std::deque<StoreBatch>& batches) {
  while (!batches.empty()) {
    if (!store_) break;
    try {
      store_->write(batches.front());
    } catch (const std::exception& error) {
      spdlog::warn("the run store '{}' failed ({}); spooling in '{}' and retrying", description_,
                   error.what(), spool_.path());
      store_.reset();
      next_retry_ = std::chrono::steady_clock::now() + backoff_;
      break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    rows_written_ += batches.front().rows();
    batches.pop_front();
  }
  if (batches.empty()) return;
  spool_.append({batches.begin(), batches.end()});
  std::lock_guard<std::mutex> lock(mutex_);
  spooled_ += batches.size();
  batches.clear();
}

void StoreWriter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // Wake for batches, for the next retry while a spool waits, or for close().
    const bool waiting_spool = spooled_ > 0;
    auto wake_at =
        waiting_spool ? next_retry_ : std::chrono::steady_clock::now() + std::chrono::hours(1);
    wake_.wait_until(lock, wake_at, [&] { return !queue_.empty() || closing_; });
    std::deque<StoreBatch> batches;
    while (!queue_.empty() && batches.size() < kBatchesPerWakeUp) {
      batches.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool closing = closing_, has_spool = spooled_ > 0;
    const bool past_deadline = std::chrono::steady_clock::now() >= close_deadline_;
    lock.unlock();
    if (!store_) {
      reconnect();  // replays the spool on success
    } else if (has_spool) {
      try {
        replay_spool();
      } catch (const std::exception&) {
        store_.reset();
        next_retry_ = std::chrono::steady_clock::now() + backoff_;
      }
    }
    write_or_spool(batches);
    lock.lock();
    if (closing && queue_.empty() && (spooled_ == 0 || past_deadline)) return;
    if (closing && spooled_ > 0 && queue_.empty()) {
      const auto retry = std::min(next_retry_, close_deadline_);
      wake_.wait_until(lock, retry, [&] { return false; });
    }
  }
}

}  // namespace cnn
