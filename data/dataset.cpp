// Subsets and the seeded train/validation split of an ImageDataset.
#include "data/dataset.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/random.h"

namespace cnn {

ImageDataset subset(const ImageDataset& dataset, const std::vector<int64_t>& indices) {
  ImageDataset out;
  out.classes = dataset.classes;
  out.channels = dataset.channels;
  out.height = dataset.height;
  out.width = dataset.width;
  const int64_t numel = dataset.image_numel();
  out.images.resize(indices.size() * numel);
  out.labels.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t source = indices[i];
    CNN_CHECK(source >= 0 && source < dataset.size(), "subset: index ", source,
              " is outside the dataset of ", dataset.size(), " images");
    std::memcpy(out.images.data() + i * numel, dataset.image(source), numel);
    out.labels[i] = dataset.labels[source];
  }
  return out;
}

ImageDataset keep_labels(const ImageDataset& dataset, const std::vector<int64_t>& labels) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < dataset.size(); ++i)
    if (std::find(labels.begin(), labels.end(), dataset.labels[i]) != labels.end())
      indices.push_back(i);
  return subset(dataset, indices);
}

void truncate(ImageDataset& dataset, int64_t limit) {
  if (limit <= 0 || limit >= dataset.size()) return;
  dataset.labels.resize(limit);
  dataset.images.resize(limit * dataset.image_numel());
  dataset.images.shrink_to_fit();
  dataset.labels.shrink_to_fit();
}

TrainValSplit split_validation(const ImageDataset& dataset, int64_t val_size, uint64_t seed) {
  CNN_CHECK(val_size >= 0 && val_size < dataset.size(), "data.val_size: expected fewer than the ",
            dataset.size(), " training images (at least one must stay for training), found ",
            val_size);
  std::vector<int64_t> order(dataset.size());
  std::iota(order.begin(), order.end(), 0);
  // Fisher-Yates with our own generator: std::shuffle's algorithm differs between
  // standard libraries, and the split must be the same everywhere.
  Generator generator(seed);
  for (int64_t i = dataset.size() - 1; i > 0; --i)
    std::swap(order[i], order[generator.randint(0, i + 1)]);
  std::vector<int64_t> val(order.begin(), order.begin() + val_size);
  std::vector<int64_t> train(order.begin() + val_size, order.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return {subset(dataset, train), subset(dataset, val)};
}

std::vector<int64_t> class_counts(const ImageDataset& dataset) {
  std::vector<int64_t> counts(dataset.classes.size(), 0);
  for (int64_t label : dataset.labels)
    if (label >= 0 && label < static_cast<int64_t>(counts.size())) ++counts[label];
  return counts;
}

}  // namespace cnn
