// ImageDataset: every image of a split decoded once into one compact uint8 buffer
// (N x C x H x W, channel planes like CIFAR-10's records) plus int64 labels. CIFAR-10
// and image folders load into this one shape so transforms and the loader are shared.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnn {

struct ImageDataset {
  std::vector<uint8_t> images;       // [N, C, H, W], 0..255
  std::vector<int64_t> labels;       // [N], each in [0, classes.size())
  std::vector<std::string> classes;  // label -> name
  int64_t channels = 3;
  int64_t height = 32;
  int64_t width = 32;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  bool empty() const { return labels.empty(); }
  int64_t image_numel() const { return channels * height * width; }
  const uint8_t* image(int64_t index) const { return images.data() + index * image_numel(); }
  uint8_t* image(int64_t index) { return images.data() + index * image_numel(); }
};

// The images at `indices`, in that order, with the same classes and geometry.
ImageDataset subset(const ImageDataset& dataset, const std::vector<int64_t>& indices);

// The images whose label is one of `labels`, in their order; labels keep their values.
ImageDataset keep_labels(const ImageDataset& dataset, const std::vector<int64_t>& labels);

// Keeps the first `limit` images (0 or >= size keeps all).
void truncate(ImageDataset& dataset, int64_t limit);

struct TrainValSplit {
  ImageDataset train;
  ImageDataset val;
};

// Carves `val_size` images out of `dataset` at random (a permutation drawn from `seed`);
// both parts keep the original order of their images, so the split depends only on
// (size, val_size, seed) and the two parts are disjoint and cover the dataset.
TrainValSplit split_validation(const ImageDataset& dataset, int64_t val_size, uint64_t seed);

// Images per label, for logging and tests.
std::vector<int64_t> class_counts(const ImageDataset& dataset);

}  // namespace cnn
