// The prefetching DataLoader: a per-epoch seeded permutation, per-sample keyed augmentation,
// and one worker thread feeding a bounded queue.
#include "data/loader.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "core/error.h"
#include "core/random.h"

namespace cnn {

namespace {
// Distinct streams derived from (seed, epoch).
constexpr uint64_t kOrderStream = 1;
constexpr uint64_t kAugmentStream = 2;
}  // namespace

DataLoader::DataLoader(const ImageDataset& dataset, LoaderOptions options, uint64_t seed)
    : dataset_(dataset), options_(std::move(options)), seed_(seed) {
  CNN_CHECK(options_.batch_size > 0, "data.batch_size: expected a positive integer, found ",
            options_.batch_size);
  CNN_CHECK(options_.queue_capacity > 0, "DataLoader: queue_capacity must be positive, found ",
            options_.queue_capacity);
  CNN_CHECK(!options_.augment.random_crop || options_.augment.crop_padding >= 0,
            "data.crop_padding: expected a non-negative integer, found ",
            options_.augment.crop_padding);
  CNN_CHECK(!options_.augment.cutout || options_.augment.cutout_size > 0,
            "data.cutout_size: expected a positive integer, found ", options_.augment.cutout_size);
  CNN_CHECK(
      static_cast<int64_t>(dataset_.images.size()) == dataset_.size() * dataset_.image_numel(),
      "DataLoader: the dataset holds ", dataset_.images.size(), " pixel bytes for ",
      dataset_.size(), " images of ", dataset_.image_numel());
  CNN_CHECK(options_.shard_count > 0 && options_.shard_index >= 0 &&
                options_.shard_index < options_.shard_count,
            "DataLoader: shard ", options_.shard_index, " of ", options_.shard_count,
            " does not exist");
  table_ = normalization_table(options_.normalization, dataset_.channels);
}

DataLoader::~DataLoader() { end_epoch(); }

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = dataset_.size(), b = options_.batch_size * options_.shard_count;
  if (options_.drop_last) return n / b;
  // A tail with fewer samples than shards would leave a shard with nothing to train on.
  const bool tail_too_small = n % b != 0 && n % b < options_.shard_count;
  return (n + b - 1) / b - (tail_too_small ? 1 : 0);
}

int64_t DataLoader::global_batch_images(int64_t index) const {
  const int64_t b = options_.batch_size * options_.shard_count;
  return std::max<int64_t>(0, std::min(b, dataset_.size() - index * b));
}

void DataLoader::begin_epoch(int64_t epoch, int64_t start_batch) {
  end_epoch();
  CNN_CHECK(epoch >= 0, "DataLoader::begin_epoch: the epoch must be non-negative, found ", epoch);
  CNN_CHECK(start_batch >= 0 && start_batch <= batches_per_epoch(),
            "DataLoader::begin_epoch: ", "start batch ", start_batch, " is outside the epoch's ",
            batches_per_epoch(), " batches");
  epoch_ = epoch;
  order_.resize(dataset_.size());
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle) {
    // Fisher-Yates with our own generator, seeded from (seed, epoch) only.
    Generator generator(mix_key(seed_, static_cast<uint64_t>(epoch), kOrderStream));
    for (int64_t i = dataset_.size() - 1; i > 0; --i)
      std::swap(order_[i], order_[generator.randint(0, i + 1)]);
  }
  augment_key_ = mix_key(seed_, static_cast<uint64_t>(epoch), kAugmentStream);
  next_batch_ = start_batch;
  end_batch_ = batches_per_epoch();
  if (options_.prefetch && start_batch < end_batch_) {
    finished_ = false;  // no lock needed: the worker is not running yet
    worker_ = std::thread(&DataLoader::worker_loop, this, start_batch, end_batch_);
  }
}

void DataLoader::end_epoch() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  stop_ = false;
  finished_ = true;  // next() now reports the epoch as over instead of waiting
  error_ = nullptr;
  next_batch_ = end_batch_;
}

Batch DataLoader::make_batch(int64_t index) const {
  CNN_CHECK(epoch_ >= 0, "DataLoader: call begin_epoch before asking for batches");
  // The global batch's positions [begin, end), of which this shard takes every
  // shard_count-th from shard_index (with one shard: all of them, in order).
  const int64_t shards = options_.shard_count, shard = options_.shard_index;
  const int64_t begin = index * options_.batch_size * shards;
  const int64_t end = std::min(begin + options_.batch_size * shards, dataset_.size());
  CNN_CHECK(index >= 0 && begin + shard < end, "DataLoader: batch ", index,
            " is outside the epoch");
  const int64_t count = (end - begin - shard + shards - 1) / shards;
  const int64_t c = dataset_.channels, h = dataset_.height, w = dataset_.width;
  Batch batch;
  batch.index = index;
  batch.images = Tensor::empty({count, c, h, w});
  batch.labels = Tensor::empty({count}, DType::Int64);
  float* images = batch.images.data();
  int64_t* labels = batch.labels.data_i64();
  const int64_t numel = dataset_.image_numel();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position = begin + shard + i * shards;
    const int64_t sample = order_[position];
    AugmentParams params;
    if (options_.augment.any()) {
      SampleRandom random(mix_key(augment_key_, static_cast<uint64_t>(position)));
      params = draw_augment_params(options_.augment, h, w, random);
    }
    transform_image(dataset_.image(sample), c, h, w, table_.data(), options_.augment, params,
                    images + i * numel);
    labels[i] = dataset_.labels[sample];
  }
  return batch;
}

void DataLoader::worker_loop(int64_t first, int64_t last) {
  for (int64_t index = first; index < last; ++index) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] {
        return stop_ || static_cast<int64_t>(queue_.size()) < options_.queue_capacity;
      });
      if (stop_) return;
    }
    Batch batch;
    try {
      batch = make_batch(index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      finished_ = true;
      ready_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) return;
      queue_.push_back(std::move(batch));
    }
    ready_.notify_one();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  ready_.notify_all();
}

std::optional<Batch> DataLoader::next() {
  CNN_CHECK(epoch_ >= 0, "DataLoader: call begin_epoch before asking for batches");
  if (!options_.prefetch) {
    if (next_batch_ >= end_batch_) return std::nullopt;
    return make_batch(next_batch_++);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [&] { return !queue_.empty() || finished_; });
  if (!queue_.empty()) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_.notify_one();
    return batch;
  }
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return std::nullopt;
}

}  // namespace cnn
