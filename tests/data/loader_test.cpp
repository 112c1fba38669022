// DataLoader: coverage of every sample, drop_last, order, seeding by (seed, epoch),
// prefetch equivalence, starting mid-epoch, and clean shutdown of the worker thread.
#include "data/loader.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

#include "core/error.h"

using namespace cnn;

namespace {
// n images of 3x4x4; every pixel of image i is i + 1 (so pixel / 255 names the image).
ImageDataset numbered(int64_t n) {
  ImageDataset dataset;
  dataset.channels = 3;
  dataset.height = 4;
  dataset.width = 4;
  dataset.classes = {"a", "b", "c", "d", "e"};
  for (int64_t i = 0; i < n; ++i) {
    dataset.images.insert(dataset.images.end(), 48, static_cast<uint8_t>(i + 1));
    dataset.labels.push_back(i % 5);
  }
  return dataset;
}

std::vector<Batch> whole_epoch(DataLoader& loader, int64_t epoch, int64_t start = 0) {
  loader.begin_epoch(epoch, start);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

// The image ids of a batch without augmentation: the centre pixel of each image.
std::vector<int64_t> ids(const Batch& batch) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < batch.images.size(0); ++i)
    out.push_back(std::lround(batch.images.data()[i * 48 + 5] * 255.0f) - 1);
  return out;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].index != b[i].index || a[i].images.shape() != b[i].images.shape()) return false;
    if (std::memcmp(a[i].images.data(), b[i].images.data(), a[i].images.numel() * sizeof(float)) !=
        0)
      return false;
    if (a[i].labels.to_int64_vector() != b[i].labels.to_int64_vector()) return false;
  }
  return true;
}

LoaderOptions augmenting(bool prefetch) {
  LoaderOptions options;
  options.batch_size = 8;
  options.prefetch = prefetch;
  options.augment.random_crop = options.augment.hflip = options.augment.cutout = true;
  options.augment.crop_padding = 1;
  options.augment.cutout_size = 2;
  options.normalization = {{0.5f, 0.4f, 0.3f}, {0.2f, 0.2f, 0.2f}};
  return options;
}
}  // namespace

TEST_CASE("loader: every sample exactly once per epoch, with its label", "[data][loader]") {
  const ImageDataset dataset = numbered(37);
  for (bool prefetch : {false, true}) {
    LoaderOptions options;
    options.batch_size = 10;
    options.prefetch = prefetch;
    DataLoader loader(dataset, options, 5);
    REQUIRE(loader.batches_per_epoch() == 4);
    const auto batches = whole_epoch(loader, 0);
    REQUIRE(batches.size() == 4);
    std::multiset<int64_t> seen;
    for (const auto& batch : batches) {
      CHECK(batch.images.shape() == Shape{batch.images.size(0), 3, 4, 4});
      CHECK(batch.labels.dtype() == DType::Int64);
      const auto batch_ids = ids(batch);
      const auto labels = batch.labels.to_int64_vector();
      for (size_t i = 0; i < batch_ids.size(); ++i) {
        CHECK(labels[i] == batch_ids[i] % 5);
        seen.insert(batch_ids[i]);
      }
      for (float v : batch.images.to_vector()) {
        REQUIRE(v >= 0.0f);
        REQUIRE(v <= 1.0f);
      }
    }
    CHECK(batches.back().images.size(0) == 7);
    REQUIRE(seen.size() == 37);
    for (int64_t i = 0; i < 37; ++i) CHECK(seen.count(i) == 1);
    CHECK_FALSE(loader.next().has_value());  // stays over
  }
}

TEST_CASE("loader: drop_last drops the short batch", "[data][loader]") {
  const ImageDataset dataset = numbered(37);
  LoaderOptions options;
  options.batch_size = 10;
  options.drop_last = true;
  DataLoader loader(dataset, options, 5);
  CHECK(loader.batches_per_epoch() == 3);
  const auto batches = whole_epoch(loader, 0);
  REQUIRE(batches.size() == 3);
  std::set<int64_t> seen;
  for (const auto& batch : batches) {
    CHECK(batch.images.size(0) == 10);
    for (int64_t id : ids(batch)) seen.insert(id);
  }
  CHECK(seen.size() == 30);
}

TEST_CASE("loader: without shuffle the order is the dataset's, every epoch", "[data][loader]") {
  const ImageDataset dataset = numbered(23);
  LoaderOptions options;
  options.batch_size = 6;
  options.shuffle = false;
  DataLoader loader(dataset, options, 5);
  for (int64_t epoch : {0, 3}) {
    std::vector<int64_t> order;
    for (const auto& batch : whole_epoch(loader, epoch))
      for (int64_t id : ids(batch)) order.push_back(id);
    std::vector<int64_t> expected(23);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(order == expected);
  }
}

TEST_CASE("loader: batches depend only on (seed, epoch)", "[data][loader]") {
  const ImageDataset dataset = numbered(50);
  DataLoader first(dataset, augmenting(true), 11), second(dataset, augmenting(true), 11);
  const auto epoch2 = whole_epoch(first, 2);
  whole_epoch(second, 0);  // a different history before epoch 2 changes nothing
  CHECK(same_batches(epoch2, whole_epoch(second, 2)));
  CHECK(same_batches(epoch2, whole_epoch(first, 2)));
  CHECK_FALSE(same_batches(epoch2, whole_epoch(first, 3)));
  DataLoader other_seed(dataset, augmenting(true), 12);
  CHECK_FALSE(same_batches(epoch2, whole_epoch(other_seed, 2)));

  // Different epochs shuffle differently.
  LoaderOptions plain;
  plain.batch_size = 50;
  DataLoader loader(dataset, plain, 11);
  CHECK(ids(whole_epoch(loader, 0)[0]) != ids(whole_epoch(loader, 1)[0]));
}

TEST_CASE("loader: prefetch on and off give identical batches", "[data][loader]") {
  const ImageDataset dataset = numbered(45);
  DataLoader with(dataset, augmenting(true), 3), without(dataset, augmenting(false), 3);
  for (int64_t epoch : {0, 1})
    CHECK(same_batches(whole_epoch(with, epoch), whole_epoch(without, epoch)));
  // make_batch (on the caller's thread) builds the same thing too.
  with.begin_epoch(1);
  CHECK(same_batches({with.make_batch(4)}, {whole_epoch(without, 1)[4]}));
}

TEST_CASE("loader: starting mid-epoch gives the tail of the full epoch", "[data][loader]") {
  const ImageDataset dataset = numbered(45);
  for (bool prefetch : {true, false}) {
    DataLoader loader(dataset, augmenting(prefetch), 9);
    const auto full = whole_epoch(loader, 4);
    REQUIRE(full.size() == 6);
    const auto tail = whole_epoch(loader, 4, 2);
    CHECK(same_batches(tail, std::vector<Batch>(full.begin() + 2, full.end())));
    CHECK(whole_epoch(loader, 4, 6).empty());  // starting at the end: nothing left
    CHECK_THROWS_WITH(loader.begin_epoch(4, 7), Catch::Contains("start batch 7"));
  }
}

TEST_CASE("loader: abandoning an epoch or the loader midway is clean", "[data][loader]") {
  const ImageDataset dataset = numbered(60);
  LoaderOptions options = augmenting(true);
  options.batch_size = 2;
  options.queue_capacity = 1;
  {
    DataLoader loader(dataset, options, 1);
    loader.begin_epoch(0);
    REQUIRE(loader.next().has_value());
    // destroyed here with the worker blocked on a full queue
  }
  {
    DataLoader loader(dataset, options, 1);
    loader.begin_epoch(0);  // destroyed before anything was taken
  }
  DataLoader loader(dataset, options, 1);
  loader.begin_epoch(0);
  REQUIRE(loader.next().has_value());
  loader.begin_epoch(1);  // restart while the worker is mid-epoch
  CHECK(whole_epoch(loader, 1).size() == 30);
  loader.begin_epoch(2);
  loader.next();
  loader.end_epoch();
  CHECK_FALSE(loader.next().has_value());  // over, not waiting forever
}

TEST_CASE("loader: misuse is reported", "[data][loader]") {
  const ImageDataset dataset = numbered(5);
  LoaderOptions options;
  DataLoader loader(dataset, options, 0);
  CHECK_THROWS_WITH(loader.next(), Catch::Contains("begin_epoch"));
  options.batch_size = 0;
  CHECK_THROWS_WITH(DataLoader(dataset, options, 0), Catch::Contains("data.batch_size"));
  const ImageDataset empty;
  DataLoader nothing(empty, LoaderOptions{}, 0);
  CHECK(nothing.batches_per_epoch() == 0);
  nothing.begin_epoch(0);
  CHECK_FALSE(nothing.next().has_value());
}

TEST_CASE("DataLoader shards: N shards at batch B see, step by step, one loader's batch N*B",
          "[data][loader][distributed]") {
  const ImageDataset dataset = numbered(23);
  for (int64_t shards : {2, 3}) {
    INFO("shards " << shards);
    LoaderOptions whole;
    whole.batch_size = 2 * shards;
    whole.prefetch = false;
    whole.augment.hflip = true;  // keyed by the global position, so it must match too
    DataLoader one(dataset, whole, 9);
    std::vector<Batch> reference = whole_epoch(one, 1);
    std::vector<std::vector<Batch>> parts;
    for (int64_t r = 0; r < shards; ++r) {
      LoaderOptions options = whole;
      options.batch_size = 2;
      options.shard_index = r;
      options.shard_count = shards;
      options.prefetch = r % 2 == 0;
      DataLoader loader(dataset, options, 9);
      // 23 = 2*6*... : a tail of 23 % (2N) samples, kept when it gives every shard one
      const int64_t tail = 23 % (2 * shards);
      CHECK(loader.batches_per_epoch() ==
            23 / (2 * shards) + (tail >= shards ? 1 : 0));
      parts.push_back(whole_epoch(loader, 1));
      REQUIRE(static_cast<int64_t>(parts.back().size()) == loader.batches_per_epoch());
    }
    for (size_t k = 0; k < parts[0].size(); ++k) {
      const std::vector<int64_t> global = ids(reference[k]);
      // shard r holds global positions r, r + N, ... of batch k
      for (int64_t r = 0; r < shards; ++r) {
        const std::vector<int64_t> got = ids(parts[r][k]);
        for (size_t j = 0; j < got.size(); ++j) CHECK(got[j] == global[r + j * shards]);
        CHECK(parts[r][k].images.size(0) * shards <= static_cast<int64_t>(global.size()) + shards);
        for (size_t j = 0; j < got.size(); ++j) {
          const float* a = parts[r][k].images.data() + j * 48;
          const float* b = reference[k].images.data() + (r + j * shards) * 48;
          CHECK(std::memcmp(a, b, 48 * sizeof(float)) == 0);
        }
      }
    }
  }
}
