// The `data:` section of a run config: which dataset, where it lives, how it is batched,
// augmented and normalized. parse_data_config checks every key (an unknown key or a wrong
// type is an error naming its path); load_datasets reads the images.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "core/config_reader.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"

namespace cnn {

enum class NormalizeMode {
  None,   // absent or null: pixels / 255 only
  Fixed,  // {mean: [...], std: [...]} or `cifar10`
  Auto,   // `auto`: the training set's own per-channel statistics, logged
};

struct DataConfig {
  std::string dataset = "cifar10";  // cifar10 | imagefolder
  std::string root;                 // "" = resolve (CIFAR-10: $CIFAR10_DIR, data/...)
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;
  std::vector<std::string> augment;  // random_crop, hflip, cutout
  int64_t crop_padding = 4;
  int64_t cutout_size = 8;
  NormalizeMode normalize_mode = NormalizeMode::None;
  Normalization normalize;  // with NormalizeMode::Fixed
  // Only these labels (their indices, e.g. CIFAR-10's 0-4), applied to both splits before
  // limit_train/limit_test; labels keep their values, so a 10-way head stays 10-way. Empty = all.
  std::vector<int64_t> classes;
  int64_t limit_train = 0;  // first N training images (0 = all)
  int64_t limit_test = 0;
  int64_t val_size = 0;       // images carved from training for validation
  double val_fraction = 0.0;  // or this fraction of them (val_size: 0.1)
  uint64_t split_seed = 0;    // the validation split's own seed
  int64_t image_height = 32;  // image folders are resized to this
  int64_t image_width = 32;
  bool skip_bad_images = false;
  bool prefetch = true;
  std::string train_dir = "train";  // image folders: root/train_dir/<class>/<image>
  std::string test_dir = "test";

  AugmentOptions augment_options() const;
};

// `data` may be null or absent (all defaults). `path` prefixes key names in errors.
DataConfig parse_data_config(const YAML::Node& data, const std::string& path = "data");

struct Datasets {
  ImageDataset train;
  ImageDataset val;  // empty unless val_size is set
  ImageDataset test;
  Normalization normalization;  // resolved (`auto` computed from train)
  std::string root;             // the folder actually read
};

Datasets load_datasets(const DataConfig& config);

// Options for a loader over the training split (train = true: shuffled, augmented,
// drop_last as configured) or for evaluation (in order, no augmentation, every sample).
LoaderOptions loader_options(const DataConfig& config, const Normalization& normalization,
                             bool train);

// The data keys with their defaults (DataConfig's) and help, for `cnnlab` to list.
const std::vector<KeySpec>& data_keys();

}  // namespace cnn
