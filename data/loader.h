// DataLoader: batches of a dataset, shuffled per epoch, augmented and normalized, with the
// next batch prepared on a background thread while the model trains on the current one.
//
// Reproducibility contract (exact resume): the order and every random choice of epoch e
// depend only on (seed, e) - each sample's augmentation is keyed by (seed, e, position) -
// so begin_epoch(e, k) yields exactly batches k.. of a full epoch e.
//
//   DataLoader loader(dataset, options, seed);
//   loader.begin_epoch(epoch);
//   while (auto batch = loader.next()) {
//     Tensor loss = cross_entropy(model.forward(batch->images), batch->labels);
//     optimizer.zero_grad();
//     loss.backward();
//     optimizer.step();
//   }
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace cnn {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;      // drop a last batch smaller than batch_size
  bool prefetch = true;        // prepare batches on a worker thread
  int64_t queue_capacity = 2;  // prepared batches waiting at most (with prefetch)
  AugmentOptions augment;
  Normalization normalization;
  // Data parallelism: shard_count processes at batch_size each share one global batch of
  // shard_count * batch_size positions of the epoch's order; shard `shard_index` takes
  // positions shard_index, shard_index + shard_count, ... of it. The order and each sample's
  // augmentation still depend only on (seed, epoch, position), so the shards of global batch
  // k together are exactly batch k of one process at batch shard_count * batch_size. A last
  // global batch too small to give every shard a sample is dropped (on every shard alike).
  int64_t shard_index = 0, shard_count = 1;
};

struct Batch {
  Tensor images;      // float [N, C, H, W]
  Tensor labels;      // int64 [N]
  int64_t index = 0;  // batch number within the epoch
};

class DataLoader {
 public:
  // `dataset` must outlive the loader (it is read, never copied).
  DataLoader(const ImageDataset& dataset, LoaderOptions options, uint64_t seed);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch `epoch` at batch `start_batch` (0 = the beginning), abandoning any epoch in
  // progress. start_batch may equal batches_per_epoch() (an epoch with nothing left).
  void begin_epoch(int64_t epoch, int64_t start_batch = 0);
  // The next batch of the current epoch, or nothing when it is over.
  std::optional<Batch> next();
  // Stops the worker thread early (begin_epoch and the destructor do this too).
  void end_epoch();

  int64_t batches_per_epoch() const;
  // The images of global batch `index` over all shards (its own batch's with one shard).
  int64_t global_batch_images(int64_t index) const;
  int64_t size() const { return dataset_.size(); }
  int64_t epoch() const { return epoch_; }
  const LoaderOptions& options() const { return options_; }
  const ImageDataset& dataset() const { return dataset_; }

  // Batch `index` of the current epoch, built on the calling thread (what next() returns).
  Batch make_batch(int64_t index) const;

 private:
  void worker_loop(int64_t first, int64_t last);

  const ImageDataset& dataset_;
  LoaderOptions options_;
  uint64_t seed_;
  std::vector<float> table_;    // [C * 256] uint8 -> normalized float
  std::vector<int64_t> order_;  // sample index at each position of the current epoch
  uint64_t augment_key_ = 0;    // keys the per-sample augmentation of the current epoch
  int64_t epoch_ = -1;
  int64_t next_batch_ = 0;  // without prefetch
  int64_t end_batch_ = 0;

  // Prefetch state, guarded by mutex_.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable ready_;  // a batch was queued, or the worker finished
  std::condition_variable space_;  // the queue has room, or the worker must stop
  std::deque<Batch> queue_;
  bool stop_ = false;
  bool finished_ = true;  // no worker will queue anything more
  std::exception_ptr error_;
};

}  // namespace cnn
