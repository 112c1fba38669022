// Parsing and checking the `data:` config section, and loading the datasets it names.
#include "data/config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/yaml_read.h"
#include "data/cifar10.h"
#include "data/image_folder.h"

namespace cnn {

namespace fs = std::filesystem;

const std::vector<DataKeySpec>& data_keys() {
  static const std::vector<DataKeySpec> keys = {
      {"dataset", "cifar10",
       "cifar10 (binary batches) or imagefolder (root/<split>/<class>/<image>)"},
      {"root", "\"\"",
       "dataset folder; CIFAR-10 falls back to $CIFAR10_DIR, then data/cifar-10-batches-bin"},
      {"batch_size", "128", "images per batch"},
      {"shuffle", "true", "reshuffle the training set every epoch"},
      {"drop_last", "false", "drop the last, smaller training batch"},
      {"augment", "[]", "training augmentations: random_crop, hflip, cutout"},
      {"crop_padding", "4", "zero padding on each side for random_crop"},
      {"cutout_size", "8", "side of the square that cutout zeroes"},
      {"normalize", "null",
       "null (pixels in [0, 1]), auto (training-set statistics), cifar10, or {mean: [..], std: "
       "[..]}"},
      {"limit_train", "0", "use only the first N training images (0 = all)"},
      {"limit_test", "0", "use only the first N test images (0 = all)"},
      {"val_size", "0", "validation images carved from training: a count, or a fraction below 1"},
      {"split_seed", "0", "seed of the validation split (independent of the run seed)"},
      {"image_size", "32", "image folders: resize to this (an integer or [height, width])"},
      {"skip_bad_images", "false", "image folders: skip unreadable images with a warning"},
      {"prefetch", "true", "prepare the next batch on a background thread"},
      {"train_dir", "train", "image folders: training subfolder of root"},
      {"test_dir", "test", "image folders: test subfolder of root"},
  };
  return keys;
}

namespace {
int64_t non_negative(const YAML::Node& node, const std::string& path) {
  const auto value = convert<int64_t>(node, path, "an integer");
  CNN_CHECK(value >= 0, path, ": expected a non-negative integer, found ", value);
  return value;
}

int64_t positive(const YAML::Node& node, const std::string& path) {
  const auto value = convert<int64_t>(node, path, "an integer");
  CNN_CHECK(value > 0, path, ": expected a positive integer, found ", value);
  return value;
}

std::vector<float> float_list(const YAML::Node& node, const std::string& path) {
  CNN_CHECK(node.IsSequence() && node.size() > 0, path, ": expected a list of numbers, found ",
            describe_node(node));
  std::vector<float> values;
  for (size_t i = 0; i < node.size(); ++i)
    values.push_back(convert<float>(node[i], path + "[" + std::to_string(i) + "]", "a number"));
  return values;
}

void parse_normalize(const YAML::Node& node, const std::string& path, DataConfig& config) {
  if (node.IsNull()) {
    config.normalize_mode = NormalizeMode::None;
    return;
  }
  if (node.IsScalar()) {
    const std::string value = node.Scalar();
    if (value == "auto") {
      config.normalize_mode = NormalizeMode::Auto;
    } else if (value == "cifar10") {
      config.normalize_mode = NormalizeMode::Fixed;
      config.normalize = cifar10_normalization();
    } else if (value == "none") {
      config.normalize_mode = NormalizeMode::None;
    } else {
      CNN_FAIL(path, ": expected auto, cifar10, none or {mean: [..], std: [..]}, found '", value,
               "'");
    }
    return;
  }
  CNN_CHECK(node.IsMap(), path, ": expected auto, cifar10, none or {mean: [..], std: [..]}, found ",
            describe_node(node));
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    CNN_CHECK(key == "mean" || key == "std", path, ".", key,
              ": unknown key; normalize takes mean and std");
  }
  CNN_CHECK(node["mean"] && node["std"], path, ": needs both mean and std lists");
  Normalization normalization{float_list(node["mean"], path + ".mean"),
                              float_list(node["std"], path + ".std")};
  CNN_CHECK(normalization.mean.size() == normalization.std.size(), path, ": mean has ",
            normalization.mean.size(), " values but std has ", normalization.std.size());
  for (size_t i = 0; i < normalization.std.size(); ++i)
    CNN_CHECK(normalization.std[i] > 0, path, ".std[", i, "]: expected a positive number, found ",
              normalization.std[i]);
  config.normalize_mode = NormalizeMode::Fixed;
  config.normalize = std::move(normalization);
}

void parse_val_size(const YAML::Node& node, const std::string& path, DataConfig& config) {
  const char* expected = "a number of images or a fraction between 0 and 1";
  try {
    if (!node.IsScalar()) throw YAML::BadConversion(node.Mark());
    config.val_size = node.as<int64_t>();
    CNN_CHECK(config.val_size >= 0, path, ": expected ", expected, ", found ", config.val_size);
    config.val_fraction = 0.0;
    return;
  } catch (const YAML::Exception&) {
  }
  const auto fraction = convert<double>(node, path, expected);
  CNN_CHECK(fraction > 0.0 && fraction < 1.0, path, ": expected ", expected, ", found ", fraction);
  config.val_size = 0;
  config.val_fraction = fraction;
}

ImageDataset load_split(const DataConfig& config, const std::string& root, bool train,
                        const std::vector<std::string>& classes) {
  const int64_t limit = train ? config.limit_train : config.limit_test;
  if (config.dataset == "cifar10") return load_cifar10(root, train, limit);
  ImageFolderOptions options;
  options.height = config.image_height;
  options.width = config.image_width;
  options.skip_bad_images = config.skip_bad_images;
  options.limit = limit;
  options.classes = classes;
  return load_image_folder((fs::path(root) / (train ? config.train_dir : config.test_dir)).string(),
                           options);
}
}  // namespace

AugmentOptions DataConfig::augment_options() const {
  AugmentOptions options;
  auto has = [&](const char* name) {
    return std::find(augment.begin(), augment.end(), name) != augment.end();
  };
  options.random_crop = has("random_crop");
  options.hflip = has("hflip");
  options.cutout = has("cutout");
  options.crop_padding = crop_padding;
  options.cutout_size = cutout_size;
  return options;
}

DataConfig parse_data_config(const YAML::Node& data, const std::string& path) {
  DataConfig config;
  if (!data.IsDefined() || data.IsNull()) return config;
  CNN_CHECK(data.IsMap(), path, ": expected a mapping of data keys, found ", describe_node(data));
  for (const auto& entry : data) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node value = entry.second;
    const std::string key_path = path + "." + key;
    if (key == "normalize") {
      parse_normalize(value, key_path, config);
      continue;
    }
    if (value.IsNull()) continue;  // an explicit null keeps the default
    if (key == "dataset") {
      config.dataset = convert<std::string>(value, key_path, "cifar10 or imagefolder");
      CNN_CHECK(config.dataset == "cifar10" || config.dataset == "imagefolder", key_path,
                ": expected cifar10 or imagefolder, found '", config.dataset, "'");
    } else if (key == "root") {
      config.root = convert<std::string>(value, key_path, "a folder path");
    } else if (key == "batch_size") {
      config.batch_size = positive(value, key_path);
    } else if (key == "shuffle") {
      config.shuffle = convert<bool>(value, key_path, "true or false");
    } else if (key == "drop_last") {
      config.drop_last = convert<bool>(value, key_path, "true or false");
    } else if (key == "augment") {
      CNN_CHECK(value.IsSequence(), key_path,
                ": expected a list of random_crop, hflip, cutout, found ", describe_node(value));
      config.augment.clear();
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string item_path = key_path + "[" + std::to_string(i) + "]";
        const auto name = convert<std::string>(value[i], item_path, "random_crop, hflip or cutout");
        CNN_CHECK(name == "random_crop" || name == "hflip" || name == "cutout", item_path,
                  ": expected random_crop, hflip or cutout, found '", name, "'");
        if (std::find(config.augment.begin(), config.augment.end(), name) == config.augment.end())
          config.augment.push_back(name);
      }
    } else if (key == "crop_padding") {
      config.crop_padding = non_negative(value, key_path);
    } else if (key == "cutout_size") {
      config.cutout_size = positive(value, key_path);
    } else if (key == "limit_train") {
      config.limit_train = non_negative(value, key_path);
    } else if (key == "limit_test") {
      config.limit_test = non_negative(value, key_path);
    } else if (key == "val_size") {
      parse_val_size(value, key_path, config);
    } else if (key == "split_seed") {
      config.split_seed = static_cast<uint64_t>(non_negative(value, key_path));
    } else if (key == "image_size") {
      if (value.IsSequence()) {
        CNN_CHECK(value.size() == 2, key_path,
                  ": expected an integer or [height, width], found a list of ", value.size());
        config.image_height = positive(value[0], key_path + "[0]");
        config.image_width = positive(value[1], key_path + "[1]");
      } else {
        config.image_height = config.image_width = positive(value, key_path);
      }
    } else if (key == "skip_bad_images") {
      config.skip_bad_images = convert<bool>(value, key_path, "true or false");
    } else if (key == "prefetch") {
      config.prefetch = convert<bool>(value, key_path, "true or false");
    } else if (key == "train_dir") {
      config.train_dir = convert<std::string>(value, key_path, "a folder name");
    } else if (key == "test_dir") {
      config.test_dir = convert<std::string>(value, key_path, "a folder name");
    } else {
      std::string known;
      for (const auto& spec : data_keys()) known += (known.empty() ? "" : ", ") + spec.name;
      CNN_FAIL(key_path, ": unknown key; the data keys are ", known);
    }
  }
  return config;
}

Datasets load_datasets(const DataConfig& config) {
  Datasets datasets;
  if (config.dataset == "cifar10") {
    datasets.root = resolve_cifar10_root(config.root);
  } else {
    CNN_CHECK(!config.root.empty(),
              "data.root: an imagefolder dataset needs its folder "
              "(root/",
              config.train_dir, "/<class>/<image>)");
    datasets.root = config.root;
  }
  datasets.train = load_split(config, datasets.root, true, {});
  datasets.test = load_split(config, datasets.root, false, datasets.train.classes);

  int64_t val_size = config.val_size;
  if (config.val_fraction > 0.0)
    val_size = static_cast<int64_t>(
        config.val_fraction * static_cast<double>(datasets.train.size()) + 0.5);
  if (val_size > 0) {
    auto split = split_validation(datasets.train, val_size, config.split_seed);
    datasets.train = std::move(split.train);
    datasets.val = std::move(split.val);
  }

  switch (config.normalize_mode) {
    case NormalizeMode::None:
      break;
    case NormalizeMode::Fixed:
      datasets.normalization = config.normalize;
      break;
    case NormalizeMode::Auto:
      datasets.normalization = compute_normalization(datasets.train);
      spdlog::info("data: normalize auto: training-set {}", datasets.normalization.describe());
      break;
  }
  // Checks the channel count now rather than when the first loader is built.
  normalization_table(datasets.normalization, datasets.train.channels);

  spdlog::info(
      "data: {} from {}: {} training, {} validation, {} test images of {}x{}x{}, {} classes",
      config.dataset, datasets.root, datasets.train.size(), datasets.val.size(),
      datasets.test.size(), datasets.train.channels, datasets.train.height, datasets.train.width,
      datasets.train.classes.size());
  return datasets;
}

LoaderOptions loader_options(const DataConfig& config, const Normalization& normalization,
                             bool train) {
  LoaderOptions options;
  options.batch_size = config.batch_size;
  options.prefetch = config.prefetch;
  options.normalization = normalization;
  if (train) {
    options.shuffle = config.shuffle;
    options.drop_last = config.drop_last;
    options.augment = config.augment_options();
  } else {
    options.shuffle = false;
    options.drop_last = false;
  }
  return options;
}

}  // namespace cnn
