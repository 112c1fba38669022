// The `data:` config section: defaults, every key, errors naming the key path, and
// load_datasets on a tiny CIFAR-10 copy and on the JPEG sample.
#include "data/config.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/cifar10.h"

namespace fs = std::filesystem;
using namespace cnn;

namespace {
DataConfig parse(const std::string& yaml) { return parse_data_config(YAML::Load(yaml)); }

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const cnn::Error& e) {
    return e.what();
  }
  return "";
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    static int counter = 0;
    path = fs::temp_directory_path() / ("cnnlab_config_" + name + "_" + std::to_string(::getpid()) +
                                        "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A CIFAR-10-format copy with `per_batch` records per training batch file and 6 test records.
void write_tiny_cifar(const fs::path& root, int per_batch) {
  auto write = [](const fs::path& path, int records, int first) {
    std::ofstream out(path, std::ios::binary);
    for (int r = 0; r < records; ++r) {
      out.put(static_cast<char>((first + r) % 10));
      for (int p = 0; p < 3072; ++p) out.put(static_cast<char>((first + r) * 3 + p % 7));
    }
  };
  for (int b = 0; b < 5; ++b)
    write(root / ("data_batch_" + std::to_string(b + 1) + ".bin"), per_batch, b * per_batch);
  write(root / "test_batch.bin", 6, 500);
  std::ofstream meta(root / "batches.meta.txt");
  for (int k = 0; k < 10; ++k) meta << "class" << k << "\n";
}
}  // namespace

TEST_CASE("data config: defaults", "[data][config]") {
  for (const char* yaml : {"", "~", "{}"}) {
    const DataConfig config = parse(yaml);
    CHECK(config.dataset == "cifar10");
    CHECK(config.root.empty());
    CHECK(config.batch_size == 128);
    CHECK(config.shuffle);
    CHECK_FALSE(config.drop_last);
    CHECK(config.augment.empty());
    CHECK(config.crop_padding == 4);
    CHECK(config.cutout_size == 8);
    CHECK(config.normalize_mode == NormalizeMode::None);
    CHECK(config.limit_train == 0);
    CHECK(config.limit_test == 0);
    CHECK(config.val_size == 0);
    CHECK(config.image_height == 32);
    CHECK(config.image_width == 32);
    CHECK_FALSE(config.skip_bad_images);
    CHECK(config.prefetch);
    CHECK(config.train_dir == "train");
    CHECK(config.test_dir == "test");
    CHECK_FALSE(config.augment_options().any());
  }
}

TEST_CASE("data config: every key is read", "[data][config]") {
  const DataConfig config = parse(R"(
    dataset: imagefolder
    root: /somewhere
    batch_size: 64
    shuffle: false
    drop_last: true
    augment: [random_crop, hflip, cutout]
    crop_padding: 2
    cutout_size: 16
    normalize: {mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.25]}
    limit_train: 1000
    limit_test: 100
    val_size: 50
    split_seed: 9
    image_size: [24, 40]
    skip_bad_images: true
    prefetch: false
    train_dir: training
    test_dir: validation
  )");
  CHECK(config.dataset == "imagefolder");
  CHECK(config.root == "/somewhere");
  CHECK(config.batch_size == 64);
  CHECK_FALSE(config.shuffle);
  CHECK(config.drop_last);
  const AugmentOptions augment = config.augment_options();
  CHECK(augment.random_crop);
  CHECK(augment.hflip);
  CHECK(augment.cutout);
  CHECK(augment.crop_padding == 2);
  CHECK(augment.cutout_size == 16);
  CHECK(config.normalize_mode == NormalizeMode::Fixed);
  CHECK(config.normalize.mean == std::vector<float>{0.5f, 0.4f, 0.3f});
  CHECK(config.normalize.std == std::vector<float>{0.2f, 0.2f, 0.25f});
  CHECK(config.limit_train == 1000);
  CHECK(config.limit_test == 100);
  CHECK(config.val_size == 50);
  CHECK(config.split_seed == 9);
  CHECK(config.image_height == 24);
  CHECK(config.image_width == 40);
  CHECK(config.skip_bad_images);
  CHECK_FALSE(config.prefetch);
  CHECK(config.train_dir == "training");
  CHECK(config.test_dir == "validation");

  CHECK(parse("normalize: auto").normalize_mode == NormalizeMode::Auto);
  CHECK(parse("normalize: cifar10").normalize.mean == cifar10_normalization().mean);
  CHECK(parse("normalize: ~").normalize_mode == NormalizeMode::None);
  CHECK(parse("val_size: 0.1").val_fraction == Approx(0.1));
  CHECK(parse("image_size: 64").image_width == 64);
}

TEST_CASE("data config: the key list's defaults parse and match", "[data][config]") {
  const DataConfig defaults;
  for (const auto& key : data_keys()) {
    INFO(key.name);
    CHECK_FALSE(key.help.empty());
    const DataConfig config = parse(key.name + ": " + key.default_value);
    CHECK(config.batch_size == defaults.batch_size);
    CHECK(config.crop_padding == defaults.crop_padding);
    CHECK(config.train_dir == defaults.train_dir);
    CHECK(config.normalize_mode == defaults.normalize_mode);
  }
}

TEST_CASE("data config: errors name the key path", "[data][config]") {
  CHECK(error_of("batch_size: x") == "data.batch_size: expected an integer, found 'x'");
  CHECK_THAT(error_of("batch_size: 0"), Catch::Contains("data.batch_size: expected a positive"));
  CHECK_THAT(error_of("batchsize: 3"), Catch::Contains("data.batchsize: unknown key"));
  CHECK_THAT(error_of("batchsize: 3"), Catch::Contains("batch_size"));  // lists the real keys
  CHECK_THAT(error_of("dataset: mnist"),
             Catch::Contains("data.dataset: expected cifar10 or imagefolder"));
  CHECK_THAT(error_of("shuffle: maybe"), Catch::Contains("data.shuffle: expected true or false"));
  CHECK_THAT(error_of("augment: hflip"), Catch::Contains("data.augment: expected a list"));
  CHECK_THAT(error_of("augment: [hflip, rotate]"), Catch::Contains("data.augment[1]: expected"));
  CHECK_THAT(error_of("normalize: yes please"), Catch::Contains("data.normalize: expected auto"));
  CHECK_THAT(error_of("normalize: {mean: [0.5]}"), Catch::Contains("needs both mean and std"));
  CHECK_THAT(error_of("normalize: {mean: [0.5], std: [0]}"),
             Catch::Contains("data.normalize.std[0]"));
  CHECK_THAT(error_of("normalize: {mean: [0.5], std: [a]}"),
             Catch::Contains("data.normalize.std[0]: expected a number"));
  CHECK_THAT(error_of("normalize: {mean: [0.5], std: [1], scale: 2}"),
             Catch::Contains("data.normalize.scale"));
  CHECK_THAT(error_of("val_size: 1.5"), Catch::Contains("data.val_size"));
  CHECK_THAT(error_of("val_size: -3"), Catch::Contains("data.val_size"));
  CHECK_THAT(error_of("image_size: [1, 2, 3]"), Catch::Contains("data.image_size"));
  CHECK_THAT(error_of("image_size: [32, x]"), Catch::Contains("data.image_size[1]"));
  CHECK_THAT(error_of("limit_train: -1"), Catch::Contains("data.limit_train"));
  CHECK_THAT(error_of("[1, 2]"), Catch::Contains("data: expected a mapping"));
  CHECK_THROWS_WITH(parse_data_config(YAML::Load("root: [1]"), "config.data"),
                    Catch::Contains("config.data.root: expected a folder path, found a list"));
}

TEST_CASE("data config: load_datasets on a CIFAR-10 copy with validation and auto normalize",
          "[data][config]") {
  TempDir dir("load");
  write_tiny_cifar(dir.path, 8);
  DataConfig config = parse(
      "{normalize: auto, val_size: 10, limit_test: 4, batch_size: 7, "
      "augment: [hflip], drop_last: true}");
  config.root = dir.path.string();
  const Datasets datasets = load_datasets(config);
  CHECK(datasets.root == dir.path.string());
  CHECK(datasets.train.size() == 30);
  CHECK(datasets.val.size() == 10);
  CHECK(datasets.test.size() == 4);
  CHECK(datasets.train.classes.size() == 10);
  REQUIRE(datasets.normalization.mean.size() == 3);
  CHECK(datasets.normalization.mean == compute_normalization(datasets.train).mean);

  const LoaderOptions train = loader_options(config, datasets.normalization, true);
  CHECK(train.batch_size == 7);
  CHECK(train.shuffle);
  CHECK(train.drop_last);
  CHECK(train.augment.hflip);
  const LoaderOptions eval = loader_options(config, datasets.normalization, false);
  CHECK_FALSE(eval.shuffle);
  CHECK_FALSE(eval.drop_last);
  CHECK_FALSE(eval.augment.any());
  CHECK(eval.normalization.mean == datasets.normalization.mean);

  // The split follows split_seed; fractions work too.
  config.val_size = 0;
  config.val_fraction = 0.25;
  const Datasets fraction = load_datasets(config);
  CHECK(fraction.val.size() == 10);
  CHECK(fraction.val.labels == datasets.val.labels);

  DataLoader loader(datasets.test, eval, 1);
  loader.begin_epoch(0);
  auto batch = loader.next();
  REQUIRE(batch);
  CHECK(batch->images.shape() == Shape{4, 3, 32, 32});
}

TEST_CASE("data config: a wrong channel count in normalize is caught at load", "[data][config]") {
  TempDir dir("channels");
  write_tiny_cifar(dir.path, 1);
  DataConfig config = parse("normalize: {mean: [0.5], std: [0.2]}");
  config.root = dir.path.string();
  CHECK_THROWS_WITH(load_datasets(config), Catch::Contains("data.normalize: expected 3 means"));
}

TEST_CASE("data config: load_datasets on an image folder", "[data][config]") {
  const fs::path root =
      fs::path(CNNLAB_SOURCE_DIR) / ".." / "shared" / "data" / "cifar10-jpg-sample";
  if (!fs::is_directory(root)) {
    WARN(root.string() << " is absent; skipping");
    return;
  }
  DataConfig config = parse("{dataset: imagefolder, normalize: cifar10, limit_train: 120}");
  config.root = root.string();
  const Datasets datasets = load_datasets(config);
  CHECK(datasets.train.size() == 120);
  CHECK(datasets.test.size() == 100);
  CHECK(datasets.test.classes == datasets.train.classes);
  CHECK(datasets.normalization.mean == cifar10_normalization().mean);
  CHECK_THROWS_WITH(load_datasets(parse("dataset: imagefolder")), Catch::Contains("data.root"));
}

TEST_CASE("data config: classes is a list of distinct class indices", "[data][config][classes]") {
  CHECK(parse("classes: [5, 6, 7, 8, 9]").classes == std::vector<int64_t>{5, 6, 7, 8, 9});
  CHECK(parse("classes: ~").classes.empty());
  CHECK(parse("{}").classes.empty());
  CHECK_THAT(error_of("classes: []"), Catch::Contains("data.classes: expected a non-empty list"));
  CHECK_THAT(error_of("classes: 3"), Catch::Contains("data.classes: expected a non-empty list"));
  CHECK_THAT(error_of("classes: [1, 2, 1]"),
             Catch::Contains("data.classes[2]: the class 1 is listed twice"));
  CHECK_THAT(error_of("classes: [0, 10]"),
             Catch::Contains("data.classes[1]: CIFAR-10's classes are 0 to 9, found 10"));
  CHECK_THAT(error_of("classes: [-1]"), Catch::Contains("data.classes[0]: expected a class index"));
  CHECK_THAT(error_of("classes: [cat]"),
             Catch::Contains("data.classes[0]: expected a class index"));
  // An image folder's class count is known at load only.
  CHECK(parse("{dataset: imagefolder, classes: [12]}").classes == std::vector<int64_t>{12});
}

TEST_CASE("data config: classes filters both splits before the limits", "[data][config][classes]") {
  TempDir dir("classes");
  write_tiny_cifar(dir.path, 8);  // labels 0..9 cycling over 40 training, 6 test records
  DataConfig config = parse("{classes: [7, 2], limit_train: 5}");
  config.root = dir.path.string();
  const Datasets datasets = load_datasets(config);
  // Training labels are (0..39) % 10: the first five images of classes 2 or 7, in file order.
  CHECK(datasets.train.labels == std::vector<int64_t>{2, 7, 2, 7, 2});
  CHECK(datasets.train.classes.size() == 10);  // labels keep their indices
  // Test records 500..505 have labels 0..5: only the 2 is kept (no limit_test).
  CHECK(datasets.test.labels == std::vector<int64_t>{2});
  // The images are the ones with those labels: record 2's pixels start at 2*3 = 6.
  CHECK(datasets.train.image(0)[0] == 6);
  CHECK(datasets.train.image(1)[0] == 21);
}

TEST_CASE("data config: classes on the real CIFAR-10 loader", "[data][config][classes][full]") {
  const char* root = std::getenv("CIFAR10_DIR");
  if (!root || !*root) {
    WARN("CIFAR10_DIR unset; skipping the real CIFAR-10 class filter");
    return;
  }
  DataConfig config = parse("{classes: [5, 6, 7, 8, 9], limit_train: 5000, limit_test: 2000}");
  config.root = root;
  const Datasets datasets = load_datasets(config);
  REQUIRE(datasets.train.size() == 5000);
  REQUIRE(datasets.test.size() == 2000);
  const std::vector<int64_t> train_counts = class_counts(datasets.train);
  const std::vector<int64_t> test_counts = class_counts(datasets.test);
  REQUIRE(train_counts.size() == 10);
  int64_t kept = 0;
  for (int c = 0; c < 10; ++c) {
    INFO("class " << c);
    if (c < 5) {
      CHECK(train_counts[c] == 0);
      CHECK(test_counts[c] == 0);
    } else {
      CHECK(train_counts[c] > 800);  // about 1,000 each in the first 10,000 matching images
      CHECK(test_counts[c] > 300);
      kept += train_counts[c];
    }
  }
  CHECK(kept == 5000);
  CHECK(datasets.train.classes[5] == "dog");
  // The filtered images are the loader's own: the first kept training image is the first
  // record of data_batch_1 with a label >= 5, pixel for pixel.
  const ImageDataset first = load_cifar10(root, true, 100);
  int64_t index = 0;
  while (first.labels[index] < 5) ++index;
  CHECK(datasets.train.labels[0] == first.labels[index]);
  CHECK(std::equal(first.image(index), first.image(index) + first.image_numel(),
                   datasets.train.image(0)));
  config.classes = {0, 10};  // a range error at load too, for a config built in code
  CHECK_THROWS_WITH(load_datasets(config), Catch::Contains("data.classes[1]"));
}
