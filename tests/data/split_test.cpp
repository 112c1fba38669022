// ImageDataset subsets and the seeded train/validation split.
#include <catch2/catch.hpp>
#include <set>

#include "core/error.h"
#include "data/dataset.h"

using namespace cnn;

namespace {
// n images of 1x2x2 whose first two bytes spell the image's index.
ImageDataset numbered(int64_t n) {
  ImageDataset dataset;
  dataset.channels = 1;
  dataset.height = 2;
  dataset.width = 2;
  dataset.classes = {"a", "b", "c"};
  for (int64_t i = 0; i < n; ++i) {
    dataset.images.insert(dataset.images.end(),
                          {uint8_t(i & 255), uint8_t(i >> 8), uint8_t(7), uint8_t(9)});
    dataset.labels.push_back(i % 3);
  }
  return dataset;
}

std::vector<int64_t> ids(const ImageDataset& dataset) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    out.push_back(dataset.image(i)[0] | (dataset.image(i)[1] << 8));
    REQUIRE(dataset.labels[i] == out.back() % 3);  // labels travel with their images
  }
  return out;
}
}  // namespace

TEST_CASE("split: validation split is deterministic, disjoint and complete", "[data][split]") {
  const ImageDataset dataset = numbered(300);
  const auto split = split_validation(dataset, 40, 7);
  REQUIRE(split.train.size() == 260);
  REQUIRE(split.val.size() == 40);
  CHECK(split.val.classes == dataset.classes);
  const auto train_ids = ids(split.train), val_ids = ids(split.val);
  std::set<int64_t> all(train_ids.begin(), train_ids.end());
  for (int64_t id : val_ids) CHECK(all.insert(id).second);    // disjoint
  CHECK(all.size() == 300);                                   // complete
  CHECK(std::is_sorted(train_ids.begin(), train_ids.end()));  // original order kept
  CHECK(std::is_sorted(val_ids.begin(), val_ids.end()));

  CHECK(ids(split_validation(dataset, 40, 7).val) == val_ids);  // same seed, same split
  CHECK(ids(split_validation(dataset, 40, 8).val) != val_ids);  // another seed, another split
}

TEST_CASE("split: a validation set as large as the data is an error", "[data][split]") {
  const ImageDataset dataset = numbered(10);
  CHECK_THROWS_WITH(split_validation(dataset, 10, 0), Catch::Contains("data.val_size"));
  CHECK(split_validation(dataset, 0, 0).train.size() == 10);
}

TEST_CASE("split: subset and truncate keep images with their labels", "[data][split]") {
  ImageDataset dataset = numbered(20);
  CHECK(ids(subset(dataset, {5, 2, 19})) == std::vector<int64_t>{5, 2, 19});
  CHECK_THROWS_AS(subset(dataset, {20}), cnn::Error);
  truncate(dataset, 6);
  CHECK(ids(dataset) == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(dataset.images.size() == 24u);
  CHECK(class_counts(dataset) == std::vector<int64_t>{2, 2, 2});
}
