// Image folders (root/<class>/<image>): the JPEG sample from ../shared/data, lossless PNG
// and BMP files written here (exact pixels, resizing, grey to RGB), and corrupt files.
#include "data/image_folder.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#if __has_include(<stb_image_write.h>)
#include <stb_image_write.h>
#else
#include <stb/stb_image_write.h>
#endif
#pragma GCC diagnostic pop

namespace fs = std::filesystem;
using namespace cnn;

namespace {
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    static int counter = 0;
    path = fs::temp_directory_path() / ("cnnlab_folder_" + name + "_" + std::to_string(::getpid()) +
                                        "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// An interleaved RGB image whose pixel (y, x, c) is a known pattern.
std::vector<uint8_t> pattern(int h, int w, int seed) {
  std::vector<uint8_t> rgb(h * w * 3);
  for (int i = 0; i < h * w * 3; ++i) rgb[i] = static_cast<uint8_t>(seed * 50 + i * 13);
  return rgb;
}

void write_png(const fs::path& path, int h, int w, int seed) {
  fs::create_directories(path.parent_path());
  REQUIRE(stbi_write_png(path.c_str(), w, h, 3, pattern(h, w, seed).data(), w * 3));
}

fs::path sample_root() {
  return fs::path(CNNLAB_SOURCE_DIR) / ".." / "shared" / "data" / "cifar10-jpg-sample";
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cnn::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("image folder: the CIFAR-10 JPEG sample", "[data][image_folder]") {
  const fs::path root = sample_root();
  if (!fs::is_directory(root)) {
    WARN(root.string() << " is absent; skipping the JPEG sample checks");
    return;
  }
  const std::vector<std::string> classes{"airplane", "automobile", "bird",  "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};
  const ImageDataset train = load_image_folder((root / "train").string());
  REQUIRE(train.size() == 500);
  CHECK(train.classes == classes);
  for (int64_t count : class_counts(train)) CHECK(count == 50);
  CHECK(train.labels.front() == 0);  // classes in sorted order, images grouped by class
  CHECK(train.labels.back() == 9);
  CHECK(std::is_sorted(train.labels.begin(), train.labels.end()));
  REQUIRE(train.images.size() == 500u * 3 * 32 * 32);
  const auto [low, high] = std::minmax_element(train.images.begin(), train.images.end());
  CHECK(*low < 20);  // real photos span most of the range
  CHECK(*high > 235);

  ImageFolderOptions options;
  options.classes = train.classes;
  const ImageDataset test = load_image_folder((root / "test").string(), options);
  REQUIRE(test.size() == 100);
  for (int64_t count : class_counts(test)) CHECK(count == 10);

  options.height = options.width = 16;  // resized on load
  options.limit = 30;
  const ImageDataset small = load_image_folder((root / "test").string(), options);
  CHECK(small.size() == 30);
  CHECK(small.images.size() == 30u * 3 * 16 * 16);
}

TEST_CASE("image folder: lossless files decode exactly to CHW planes", "[data][image_folder]") {
  TempDir dir("exact");
  write_png(dir.path / "b_class" / "one.png", 32, 32, 1);
  write_png(dir.path / "a_class" / "two.PNG", 32, 32, 2);
  const auto bmp = pattern(32, 32, 3);
  REQUIRE(stbi_write_bmp((dir.path / "a_class" / "three.bmp").c_str(), 32, 32, 3, bmp.data()));
  std::ofstream(dir.path / "a_class" / "notes.txt") << "not an image";  // ignored
  const ImageDataset dataset = load_image_folder(dir.path.string());
  REQUIRE(dataset.size() == 3);
  CHECK(dataset.classes == std::vector<std::string>{"a_class", "b_class"});
  CHECK(dataset.labels == std::vector<int64_t>{0, 0, 1});  // three.bmp, two.PNG, one.png
  const int plane = 32 * 32;
  for (auto [index, seed] : {std::pair{0, 3}, std::pair{1, 2}, std::pair{2, 1}}) {
    const auto rgb = pattern(32, 32, seed);
    const uint8_t* chw = dataset.image(index);
    for (int p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) REQUIRE(chw[c * plane + p] == rgb[p * 3 + c]);
  }
}

TEST_CASE("image folder: other sizes are resized and grey becomes RGB", "[data][image_folder]") {
  TempDir dir("resize");
  write_png(dir.path / "big" / "x.png", 48, 64, 0);
  std::vector<uint8_t> grey(20 * 20, 77);
  fs::create_directories(dir.path / "grey");
  REQUIRE(stbi_write_png((dir.path / "grey" / "g.png").c_str(), 20, 20, 1, grey.data(), 20));
  ImageFolderOptions options;
  options.height = 8;
  options.width = 12;
  const ImageDataset dataset = load_image_folder(dir.path.string(), options);
  REQUIRE(dataset.size() == 2);
  CHECK(dataset.height == 8);
  CHECK(dataset.width == 12);
  CHECK(dataset.images.size() == 2u * 3 * 8 * 12);
  for (int i = 0; i < 3 * 8 * 12; ++i) REQUIRE(int(dataset.image(1)[i]) == Approx(77).margin(1));
}

TEST_CASE("image folder: a corrupt image is an error naming it, or skipped",
          "[data][image_folder]") {
  TempDir dir("corrupt");
  write_png(dir.path / "cat" / "good.png", 32, 32, 1);
  write_png(dir.path / "dog" / "good.png", 32, 32, 2);
  const fs::path bad = dir.path / "dog" / "broken.jpg";
  std::ofstream(bad, std::ios::binary) << "\xff\xd8\xff\xe0 this is not really a JPEG";
  const std::string message = error_of([&] { load_image_folder(dir.path.string()); });
  CHECK_THAT(message, Catch::Contains(bad.string()));
  CHECK_THAT(message, Catch::Contains("skip_bad_images"));

  ImageFolderOptions options;
  options.skip_bad_images = true;
  const ImageDataset dataset = load_image_folder(dir.path.string(), options);
  REQUIRE(dataset.size() == 2);
  CHECK(dataset.labels == std::vector<int64_t>{0, 1});
  CHECK(dataset.image(1)[0] == pattern(32, 32, 2)[0]);  // the good dog moved into place
}

TEST_CASE("image folder: layout problems are reported", "[data][image_folder]") {
  TempDir dir("layout");
  CHECK_THAT(error_of([&] { load_image_folder((dir.path / "nope").string()); }),
             Catch::Contains("is not a folder"));
  CHECK_THAT(error_of([&] { load_image_folder(dir.path.string()); }),
             Catch::Contains("holds no PNG, JPEG or BMP images"));
  write_png(dir.path / "zebra" / "z.png", 32, 32, 1);
  ImageFolderOptions options;
  options.classes = {"cat", "dog"};
  CHECK_THAT(error_of([&] { load_image_folder(dir.path.string(), options); }),
             Catch::Contains("zebra"));
  CHECK(is_image_file("a/B.JPEG"));
  CHECK_FALSE(is_image_file("a/b.gif"));
}
