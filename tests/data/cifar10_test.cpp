// CIFAR-10 binary reader: tiny batch files written here (good, truncated, bad label,
// missing), root resolution, and the full copy from $CIFAR10_DIR when it is set.
#include "data/cifar10.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/error.h"

namespace fs = std::filesystem;
using namespace cnn;

namespace {
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    static int counter = 0;
    path = fs::temp_directory_path() / ("cnnlab_cifar_" + name + "_" + std::to_string(::getpid()) +
                                        "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Sets (or unsets) an environment variable for one scope.
struct EnvGuard {
  std::string name;
  std::optional<std::string> saved;
  EnvGuard(std::string n, const char* value) : name(std::move(n)) {
    if (const char* old = std::getenv(name.c_str())) saved = old;
    if (value)
      ::setenv(name.c_str(), value, 1);
    else
      ::unsetenv(name.c_str());
  }
  ~EnvGuard() {
    if (saved)
      ::setenv(name.c_str(), saved->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

// Pixel p of channel c of the record `id`: a pattern that tells records apart.
uint8_t pixel(int id, int c, int p) { return static_cast<uint8_t>(id * 7 + c * 3 + p); }

void write_batch(const fs::path& path, const std::vector<int>& labels, int first_id,
                 int extra_bytes = 0) {
  std::ofstream out(path, std::ios::binary);
  for (size_t r = 0; r < labels.size(); ++r) {
    out.put(static_cast<char>(labels[r]));
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p)
        out.put(static_cast<char>(pixel(first_id + static_cast<int>(r), c, p)));
  }
  for (int i = 0; i < extra_bytes; ++i) out.put(1);
}

// Five training batches of 3 records (ids 0..14, labels id % 10) and a test batch of 4.
void write_tiny_cifar(const fs::path& root, bool meta = true) {
  for (int b = 0; b < 5; ++b) {
    std::vector<int> labels;
    for (int r = 0; r < 3; ++r) labels.push_back((b * 3 + r) % 10);
    write_batch(root / ("data_batch_" + std::to_string(b + 1) + ".bin"), labels, b * 3);
  }
  write_batch(root / "test_batch.bin", {9, 8, 7, 6}, 100);
  if (meta) {
    std::ofstream out(root / "batches.meta.txt");
    for (int k = 0; k < 10; ++k) out << "class" << k << "\n";
    out << "\n";  // the official file ends with blank lines
  }
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

TEST_CASE("cifar10: reads records, labels and class names in file order", "[data][cifar10]") {
  TempDir dir("read");
  write_tiny_cifar(dir.path);
  ImageDataset train = load_cifar10(dir.path.string(), true);
  REQUIRE(train.size() == 15);
  REQUIRE(train.images.size() == 15u * 3072);
  REQUIRE(train.channels == 3);
  REQUIRE(train.height == 32);
  REQUIRE(train.width == 32);
  REQUIRE(train.classes.size() == 10);
  CHECK(train.classes[0] == "class0");
  CHECK(train.classes[9] == "class9");
  for (int id = 0; id < 15; ++id) {
    CHECK(train.labels[id] == id % 10);
    const uint8_t* image = train.image(id);
    // R, G and B planes in that order, row-major.
    CHECK(image[0] == pixel(id, 0, 0));
    CHECK(image[1023] == pixel(id, 0, 1023));
    CHECK(image[1024 + 5] == pixel(id, 1, 5));
    CHECK(image[2048 + 33] == pixel(id, 2, 33));
  }
  ImageDataset test = load_cifar10(dir.path.string(), false);
  REQUIRE(test.size() == 4);
  CHECK(test.labels == std::vector<int64_t>{9, 8, 7, 6});
  CHECK(test.image(3)[2048] == pixel(103, 2, 0));
}

TEST_CASE("cifar10: limit keeps the first images across batch files", "[data][cifar10]") {
  TempDir dir("limit");
  write_tiny_cifar(dir.path);
  ImageDataset train = load_cifar10(dir.path.string(), true, 4);
  REQUIRE(train.size() == 4);
  CHECK(train.images.size() == 4u * 3072);
  CHECK(train.image(3)[0] == pixel(3, 0, 0));  // first record of data_batch_2
  CHECK(load_cifar10(dir.path.string(), true, 1000).size() == 15);
  CHECK(load_cifar10(dir.path.string(), false, 2).size() == 2);
}

TEST_CASE("cifar10: a truncated file is an error naming it", "[data][cifar10]") {
  TempDir dir("truncated");
  write_tiny_cifar(dir.path);
  write_batch(dir.path / "data_batch_3.bin", {1, 2, 3}, 6, 100);
  const std::string message = error_of([&] { load_cifar10(dir.path.string(), true); });
  CHECK_THAT(message, Catch::Contains("data_batch_3.bin"));
  CHECK_THAT(message, Catch::Contains("not a whole number of 3073-byte records"));
  // Even a limit that stops before the damage does not hide a damaged file it opens.
  write_batch(dir.path / "data_batch_1.bin", {1, 2}, 0, 5);
  CHECK_THAT(error_of([&] { load_cifar10(dir.path.string(), true, 1); }),
             Catch::Contains("data_batch_1.bin"));
}

TEST_CASE("cifar10: an empty file is an error, not an empty dataset", "[data][cifar10]") {
  TempDir dir("empty");
  write_tiny_cifar(dir.path);
  std::ofstream(dir.path / "test_batch.bin").close();
  CHECK_THAT(error_of([&] { load_cifar10(dir.path.string(), false); }),
             Catch::Contains("test_batch.bin"));
}

TEST_CASE("cifar10: a label outside 0-9 names the file and record", "[data][cifar10]") {
  TempDir dir("label");
  write_tiny_cifar(dir.path);
  write_batch(dir.path / "data_batch_2.bin", {1, 2, 12}, 3);
  const std::string message = error_of([&] { load_cifar10(dir.path.string(), true); });
  CHECK_THAT(message, Catch::Contains("data_batch_2.bin"));
  CHECK_THAT(message, Catch::Contains("record 2"));
  CHECK_THAT(message, Catch::Contains("label 12"));
}

TEST_CASE("cifar10: a missing batch file is an error naming it", "[data][cifar10]") {
  TempDir dir("missing");
  write_tiny_cifar(dir.path);
  fs::remove(dir.path / "data_batch_4.bin");
  CHECK_THAT(error_of([&] { load_cifar10(dir.path.string(), true); }),
             Catch::Contains("data_batch_4.bin"));
  fs::remove(dir.path / "test_batch.bin");
  CHECK_THAT(error_of([&] { load_cifar10(dir.path.string(), false); }),
             Catch::Contains("test_batch.bin"));
}

TEST_CASE("cifar10: without batches.meta.txt the standard class names are used",
          "[data][cifar10]") {
  TempDir dir("nometa");
  write_tiny_cifar(dir.path, false);
  ImageDataset test = load_cifar10(dir.path.string(), false);
  REQUIRE(test.classes.size() == 10);
  CHECK(test.classes[0] == "airplane");
  CHECK(test.classes[9] == "truck");
}

TEST_CASE("cifar10: root resolution order and fallbacks", "[data][cifar10]") {
  TempDir configured("configured"), env("env");
  write_tiny_cifar(configured.path);
  write_tiny_cifar(env.path);
  const std::string missing = (configured.path / "nowhere").string();

  SECTION("the configured root wins when it holds the data") {
    EnvGuard guard("CIFAR10_DIR", env.path.c_str());
    CHECK(resolve_cifar10_root(configured.path.string()) == configured.path.string());
  }
  SECTION("an empty configured root uses CIFAR10_DIR") {
    EnvGuard guard("CIFAR10_DIR", env.path.c_str());
    CHECK(resolve_cifar10_root("") == env.path.string());
  }
  SECTION("a configured root without the data falls back to CIFAR10_DIR") {
    EnvGuard guard("CIFAR10_DIR", env.path.c_str());
    CHECK(resolve_cifar10_root(missing) == env.path.string());
  }
  SECTION("a parent folder of cifar-10-batches-bin is accepted") {
    TempDir parent("parent");
    fs::create_directories(parent.path / "cifar-10-batches-bin");
    write_tiny_cifar(parent.path / "cifar-10-batches-bin");
    EnvGuard guard("CIFAR10_DIR", nullptr);
    CHECK(resolve_cifar10_root(parent.path.string()) ==
          (parent.path / "cifar-10-batches-bin").string());
  }
  SECTION("nothing found lists every path tried and what to do") {
    const std::string empty_env = (env.path / "empty").string();
    EnvGuard guard("CIFAR10_DIR", empty_env.c_str());
    const std::string message = error_of([&] { resolve_cifar10_root(missing); });
    CHECK_THAT(message, Catch::Contains(missing));
    CHECK_THAT(message, Catch::Contains(empty_env));
    CHECK_THAT(message, Catch::Contains("data/cifar-10-batches-bin"));
    CHECK_THAT(message, Catch::Contains("CIFAR10_DIR"));
    CHECK_THAT(message, Catch::Contains("scripts/get_cifar10.sh"));
  }
}

TEST_CASE("cifar10: the full copy in CIFAR10_DIR", "[data][cifar10][full]") {
  const char* root = std::getenv("CIFAR10_DIR");
  if (!root || !*root) {
    WARN("CIFAR10_DIR unset; skipping the full CIFAR-10 checks");
    return;
  }
  ImageDataset test = load_cifar10(root, false);
  REQUIRE(test.size() == 10000);
  CHECK(test.classes == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer",
                                                 "dog", "frog", "horse", "ship", "truck"});
  for (int64_t count : class_counts(test)) CHECK(count == 1000);
  ImageDataset train = load_cifar10(root, true);
  REQUIRE(train.size() == 50000);
  for (int64_t count : class_counts(train)) CHECK(count == 5000);
}
