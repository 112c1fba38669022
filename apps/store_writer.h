// The run store's writer thread: training hands it batches through a bounded queue and never
// waits on the database. The thread writes them (several per wake-up, each one transaction);
// when the server is lost it spools them in the run directory (store_spool.jsonl, fsynced),
// reconnects with backoff (0.2 s doubling to 5 s) and replays the spool once the server is back.
//
//   StoreWriter writer(url, run_dir + "/store_spool.jsonl", /*optional=*/false);
//   writer.store()->begin_run(row);   // synchronous, before start(): errors surface at once
//   writer.start();
//   writer.submit(batch);             // any thread; returns at once
//   writer.close(std::chrono::seconds(30));  // drains; what the server still refuses stays spooled
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "apps/run_store.h"
#include "apps/store_spool.h"

namespace cnn {

class StoreWriter {
 public:
  // Connects to `url`. Unreachable: an error naming the URL (without password), or with
  // `optional` a warning, and everything is spooled until the server answers.
  StoreWriter(const std::string& url, const std::string& spool_path, bool optional);
  ~StoreWriter();  // close() with no wait: what is left stays spooled
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // The connection, for synchronous calls before start(); null when unreachable.
  RunStore* store() { return store_.get(); }
  const std::string& description() const { return description_; }
  // Pushes an earlier spool (a run that ended with its server away) before anything new.
  void replay_spool();
  void start();
  void submit(StoreBatch batch);
  // Writes what is queued, retrying the server until `wait` has passed; returns the number
  // of batches left in the spool (0: everything is in the store).
  size_t close(std::chrono::milliseconds wait);

  size_t rows_written() const;

 private:
  void run();
  void write_or_spool(std::deque<StoreBatch>& batches);
  bool reconnect();

  std::string url_, description_;
  std::unique_ptr<RunStore> store_;
  StoreSpool spool_;
  size_t spooled_ = 0;  // batches in the spool, as this writer knows
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<StoreBatch> queue_;
  bool closing_ = false;
  std::chrono::steady_clock::time_point close_deadline_, next_retry_;
  std::chrono::milliseconds backoff_{200};
  size_t rows_written_ = 0;
  std::thread thread_;
};

}  // namespace cnn
