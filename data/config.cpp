// Parsing and checking the `data:` config section, and loading the datasets it names.
#include "data/config.h"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "core/config_reader.h"
#include "core/error.h"
#include "data/cifar10.h"
#include "data/image_folder.h"

namespace cnn {

namespace fs = std::filesystem;

// The defaults are DataConfig's own (data/config.h), written there once.
const std::vector<KeySpec>& data_keys() {
  static const DataConfig defaults;
  static const std::vector<KeySpec> keys = {
      {"dataset", default_text(defaults.dataset),
       "cifar10 (binary batches) or imagefolder (root/<split>/<class>/<image>)"},
      {"root", default_text(defaults.root),
       "dataset folder; CIFAR-10 falls back to $CIFAR10_DIR, then data/cifar-10-batches-bin"},
      {"batch_size", default_text(defaults.batch_size), "images per batch"},
      {"shuffle", default_text(defaults.shuffle), "reshuffle the training set every epoch"},
      {"drop_last", default_text(defaults.drop_last), "drop the last, smaller training batch"},
      {"augment", "[]", "training augmentations: random_crop, hflip, cutout"},
      {"crop_padding", default_text(defaults.crop_padding),
       "zero padding on each side for random_crop"},
      {"cutout_size", default_text(defaults.cutout_size), "side of the square that cutout zeroes"},
      {"normalize", "null",
       "null (pixels in [0, 1]), auto (training-set statistics), cifar10, or {mean: [..], std: "
       "[..]}"},
      {"classes", "null",
       "only these labels, e.g. [0, 1, 2, 3, 4], in both splits before limit_train/limit_test; "
       "labels keep their indices (null = all)"},
      {"limit_train", default_text(defaults.limit_train),
       "use only the first N training images (0 = all)"},
      {"limit_test", default_text(defaults.limit_test),
       "use only the first N test images (0 = all)"},
      {"val_size", default_text(defaults.val_size),
       "validation images carved from training: a count, or a fraction below 1"},
      {"split_seed", default_text(defaults.split_seed),
       "seed of the validation split (independent of the run seed)"},
      {"image_size",
       default_text(std::pair<int64_t, int64_t>(defaults.image_height, defaults.image_width)),
       "image folders: resize to this (an integer or [height, width])"},
      {"skip_bad_images", default_text(defaults.skip_bad_images),
       "image folders: skip unreadable images with a warning"},
      {"prefetch", default_text(defaults.prefetch),
       "prepare the next batch on a background thread"},
      {"train_dir", default_text(defaults.train_dir), "image folders: training subfolder of root"},
      {"test_dir", default_text(defaults.test_dir), "image folders: test subfolder of root"},
  };
  return keys;
}

namespace {
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
  ConfigReader(node, path,
               {{"mean", "required", "per channel"}, {"std", "required", "per channel"}})
      .check_known_keys("normalize");
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

// `classes:` a non-empty list of distinct label indices (CIFAR-10: 0 to 9; an image folder's
// are checked against its class count at load).
std::vector<int64_t> parse_classes(const ConfigReader& reader, const std::string& dataset) {
  const YAML::Node value = reader.get_node("classes");
  const std::string path = reader.key_path("classes");
  CNN_CHECK(value.IsSequence() && value.size() > 0, path,
            ": expected a non-empty list of class indices, e.g. [0, 1, 2, 3, 4], found ",
            describe_node(value));
  std::vector<int64_t> classes;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string item = reader.item_path("classes", i);
    const auto label = convert<int64_t>(value[i], item, "a class index");
    CNN_CHECK(label >= 0, item, ": expected a class index >= 0, found ", label);
    CNN_CHECK(dataset != "cifar10" || label < 10, item, ": CIFAR-10's classes are 0 to 9, found ",
              label);
    CNN_CHECK(std::find(classes.begin(), classes.end(), label) == classes.end(), item,
              ": the class ", label, " is listed twice");
    classes.push_back(label);
  }
  return classes;
}

// The whole split when classes are chosen (the filter comes before the limit), else at most
// the limit.
ImageDataset read_split(const DataConfig& config, const std::string& root, bool train,
                        const std::vector<std::string>& classes, int64_t limit) {
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

ImageDataset load_split(const DataConfig& config, const std::string& root, bool train,
                        const std::vector<std::string>& classes) {
  const int64_t limit = train ? config.limit_train : config.limit_test;
  if (config.classes.empty()) return read_split(config, root, train, classes, limit);
  ImageDataset dataset = read_split(config, root, train, classes, 0);
  for (size_t i = 0; i < config.classes.size(); ++i)
    CNN_CHECK(config.classes[i] < static_cast<int64_t>(dataset.classes.size()), "data.classes[", i,
              "]: the dataset in '", root, "' has ", dataset.classes.size(), " classes (0 to ",
              dataset.classes.size() - 1, "), found ", config.classes[i]);
  dataset = keep_labels(dataset, config.classes);
  truncate(dataset, limit);
  return dataset;
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
  if (data.IsDefined() && !data.IsNull())
    CNN_CHECK(data.IsMap(), path, ": expected a mapping of data keys, found ", describe_node(data));
  // An absent or explicitly null key takes the default.
  const ConfigReader reader(data, path, data_keys());
  reader.check_known_keys("data");
  DataConfig config;
  config.dataset = reader.get_choice("dataset", {"cifar10", "imagefolder"});
  config.root = reader.get_string("root", "a folder path");
  config.batch_size = reader.get_positive_int("batch_size");
  config.shuffle = reader.get_bool("shuffle");
  config.drop_last = reader.get_bool("drop_last");
  if (reader.has("augment")) {
    const YAML::Node value = reader.get_node("augment");
    CNN_CHECK(value.IsSequence(), reader.key_path("augment"),
              ": expected a list of random_crop, hflip, cutout, found ", describe_node(value));
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = reader.item_path("augment", i);
      const auto name = convert<std::string>(value[i], item_path, "random_crop, hflip or cutout");
      CNN_CHECK(name == "random_crop" || name == "hflip" || name == "cutout", item_path,
                ": expected random_crop, hflip or cutout, found '", name, "'");
      if (std::find(config.augment.begin(), config.augment.end(), name) == config.augment.end())
        config.augment.push_back(name);
    }
  }
  config.crop_padding = reader.get_non_negative_int("crop_padding");
  config.cutout_size = reader.get_positive_int("cutout_size");
  if (reader.has("normalize") || reader.is_null("normalize"))
    parse_normalize(reader.get_node("normalize"), reader.key_path("normalize"), config);
  if (reader.has("classes")) config.classes = parse_classes(reader, config.dataset);
  config.limit_train = reader.get_non_negative_int("limit_train");
  config.limit_test = reader.get_non_negative_int("limit_test");
  if (reader.has("val_size"))
    parse_val_size(reader.get_node("val_size"), reader.key_path("val_size"), config);
  config.split_seed = static_cast<uint64_t>(reader.get_non_negative_int("split_seed"));
  const auto [height, width] = reader.get_pair("image_size");
  reader.check(reader.get_node("image_size").IsSequence() ? "image_size[0]" : "image_size",
               height > 0, "expected a positive integer, found ", height);
  reader.check("image_size[1]", width > 0, "expected a positive integer, found ", width);
  config.image_height = height;
  config.image_width = width;
  config.skip_bad_images = reader.get_bool("skip_bad_images");
  config.prefetch = reader.get_bool("prefetch");
  config.train_dir = reader.get_string("train_dir", "a folder name");
  config.test_dir = reader.get_string("test_dir", "a folder name");
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

  if (!config.classes.empty())
    spdlog::info("data: classes [{}] only (labels keep their indices)",
                 fmt::join(config.classes, ", "));
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
