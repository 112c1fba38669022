// A run directory's store_spool.jsonl: the store batches a lost server did not take, one JSON
// line each, appended and fsynced batch by batch, replayed when the server is back (the
// writer thread) or later (`cnnlab runs sync RUN_DIR`). Replaying is idempotent: upserts.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "apps/store_batch.h"

namespace cnn {

constexpr const char* kStoreSpoolFile = "store_spool.jsonl";

class StoreSpool {
 public:
  explicit StoreSpool(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // Appends the batches and fsyncs the file; throws a sentence naming it on a disk error.
  void append(const std::vector<StoreBatch>& batches);
  bool empty() const;
  // Every batch in order; a last line cut short by a crash is ignored.
  std::vector<StoreBatch> read() const;
  void clear();  // removes the file
  // read() and clear() at once, so that no append falls between them.
  std::vector<StoreBatch> take();

 private:
  std::vector<StoreBatch> read_unlocked() const;
  std::string path_;
  mutable std::mutex mutex_;
};

}  // namespace cnn
