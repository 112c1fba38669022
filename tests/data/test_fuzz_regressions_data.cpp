// Inputs found by the fuzzers (fuzz/fuzz_image_decode.cpp, fuzz/fuzz_cifar10.cpp) that broke
// the data readers, kept as regression tests: each must now be refused with a clear error.
// The original fuzzer files are also in fuzz/corpus/fuzz_image_decode/regression_*.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image_folder.h"
#include "data/jpeg_guard.h"

namespace fs = std::filesystem;
using namespace cnn;

namespace {

struct ScratchImages {
  fs::path root;
  ScratchImages() {
    static int counter = 0;
    root = fs::temp_directory_path() / ("cnnlab_fuzz_regressions_" + std::to_string(::getpid()) +
                                        "_" + std::to_string(counter++));
    fs::remove_all(root);
  }
  ~ScratchImages() { fs::remove_all(root); }
  // Writes root/<class>/<name> and returns its path.
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes,
                    const std::string& class_name = "a") {
    fs::create_directories(root / class_name);
    const fs::path path = root / class_name / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }
};

std::string load_error(const std::string& root, ImageFolderOptions options = {}) {
  try {
    load_image_folder(root, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void put32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// A 24-bit BMP header (54 bytes) declaring width x height, followed by `pixel_bytes` zeros.
std::vector<uint8_t> bmp(int32_t width, int32_t height, size_t pixel_bytes) {
  std::vector<uint8_t> out{'B', 'M'};
  put32(out, static_cast<uint32_t>(54 + pixel_bytes));
  put32(out, 0);
  put32(out, 54);
  put32(out, 40);
  put32(out, static_cast<uint32_t>(width));
  put32(out, static_cast<uint32_t>(height));
  out.insert(out.end(), {1, 0, 24, 0});  // planes, bits per pixel
  for (int i = 0; i < 6; ++i) put32(out, 0);
  out.resize(out.size() + pixel_bytes, 0);
  return out;
}

// SOI, then a DHT segment with one table of `codes` codes (code lengths 15 and 16), then EOI.
std::vector<uint8_t> jpeg_with_huffman_table(int codes) {
  std::vector<uint8_t> counts(16, 0);
  counts[15] = static_cast<uint8_t>(std::min(codes, 255));
  counts[14] = static_cast<uint8_t>(codes - counts[15]);
  const int length = 2 + 17 + codes;
  std::vector<uint8_t> out{0xff,
                           0xd8,
                           0xff,
                           0xc4,
                           static_cast<uint8_t>(length >> 8),
                           static_cast<uint8_t>(length & 0xff),
                           0x00};
  out.insert(out.end(), counts.begin(), counts.end());
  for (int i = 0; i < codes; ++i) out.push_back(static_cast<uint8_t>(i));
  out.insert(out.end(), {0xff, 0xd9});
  return out;
}

std::vector<uint8_t> read_bytes(const fs::path& path, size_t skip = 0) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() >= skip);
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(skip));
  return bytes;
}

// The fuzzer's corpus file `corpus_name` (its first 2 bytes are the fuzz target's options),
// saved as `file_name` in an image folder: it loads as one image of size x size, or the
// error names the file.
void require_decodes_or_names_itself(const std::string& corpus_name,
                                     const std::string& file_name, int64_t size) {
  const fs::path corpus = fs::path(CNNLAB_SOURCE_DIR) / "fuzz/corpus/fuzz_image_decode";
  ScratchImages images;
  images.write(file_name, read_bytes(corpus / corpus_name, 2));
  ImageFolderOptions options;
  options.height = options.width = size;
  try {
    ImageDataset dataset = load_image_folder(images.root.string(), options);
    CHECK(dataset.size() == 1);
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(file_name));
  }
}

}  // namespace

TEST_CASE("A JPEG Huffman table of more than 256 codes is refused before stb_image builds it",
          "[data][fuzz]") {
  // stb_image v2.27 wrote past its 257-entry size table here (UBSan: index 257 out of bounds).
  const std::vector<uint8_t> bad = jpeg_with_huffman_table(300);
  CHECK_THAT(jpeg_huffman_problem(bad.data(), bad.size()), Catch::Contains("300 codes"));
  const std::vector<uint8_t> limit = jpeg_with_huffman_table(256);
  CHECK(jpeg_huffman_problem(limit.data(), limit.size()).empty());

  ScratchImages images;
  const std::string path = images.write("bad.jpg", bad);
  std::string error = load_error(images.root.string());
  CHECK_THAT(error, Catch::Contains(path));
  CHECK_THAT(error, Catch::Contains("Huffman table"));

  // The file the fuzzer found (its first two bytes are the harness's options).
  const fs::path found = fs::path(CNNLAB_SOURCE_DIR) /
                         "fuzz/corpus/fuzz_image_decode/regression_jpeg_dht_over_256_codes";
  const std::vector<uint8_t> found_bytes = read_bytes(found, 2);
  CHECK_THAT(jpeg_huffman_problem(found_bytes.data(), found_bytes.size()),
             Catch::Contains("more than the 256 allowed"));
}

TEST_CASE("The JPEG guard passes real JPEG files (baseline, progressive, grey)", "[data][fuzz]") {
  const fs::path corpus = fs::path(CNNLAB_SOURCE_DIR) / "fuzz/corpus/fuzz_image_decode";
  for (const char* name : {"jpeg_rgb_8x8", "jpeg_progressive", "jpeg_grey"}) {
    INFO(name);
    const std::vector<uint8_t> bytes = read_bytes(corpus / name, 2);
    CHECK(jpeg_huffman_problem(bytes.data(), bytes.size()).empty());
  }
  // Every image of the shared CIFAR-10 JPEG sample, when it is there.
  const fs::path sample =
      fs::path(CNNLAB_SOURCE_DIR) / ".." / "shared" / "data" / "cifar10-jpg-sample";
  std::error_code missing;
  int checked = 0;
  for (auto it = fs::recursive_directory_iterator(sample, missing);
       !missing && it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file() || it->path().extension() != ".jpg") continue;
    const std::vector<uint8_t> bytes = read_bytes(it->path());
    INFO(it->path().string());
    CHECK(jpeg_huffman_problem(bytes.data(), bytes.size()).empty());
    ++checked;
  }
  if (checked == 0) WARN("no JPEG sample under " << sample.string() << "; checked the corpus only");
}

TEST_CASE("A BMP of height 0 is refused instead of resized (division by zero in stb_image_resize)",
          "[data][fuzz]") {
  ScratchImages images;
  const std::string path = images.write("flat.bmp", bmp(1284, 0, 16));
  ImageFolderOptions options;
  options.height = options.width = 6;
  std::string error = load_error(images.root.string(), options);
  CHECK_THAT(error, Catch::Contains(path));
  CHECK_THAT(error, Catch::Contains("no pixels"));

  const fs::path found =
      fs::path(CNNLAB_SOURCE_DIR) / "fuzz/corpus/fuzz_image_decode/regression_bmp_height_0";
  ScratchImages found_images;
  const std::string found_path = found_images.write("found.bmp", read_bytes(found, 2));
  error = load_error(found_images.root.string(), options);
  CHECK_THAT(error, Catch::Contains(found_path));
  CHECK_THAT(error, Catch::Contains("no pixels"));
}

TEST_CASE("An image header declaring a gigantic image is refused before decoding", "[data][fuzz]") {
  // 54 bytes that would make stb_image allocate and fill 1.2 GB (20000 x 20000 RGB).
  ScratchImages images;
  const std::string path = images.write("huge.bmp", bmp(20000, 20000, 0));
  std::string error = load_error(images.root.string());
  CHECK_THAT(error, Catch::Contains(path));
  CHECK_THAT(error, Catch::Contains("20000x20000"));
  CHECK_THAT(error, Catch::Contains("megapixels"));

  // A top-down BMP stores a negative height; the cap must see through it.
  ScratchImages top_down;
  top_down.write("huge.bmp", bmp(20000, -20000, 0));
  CHECK_THAT(load_error(top_down.root.string()), Catch::Contains("20000x20000"));

  // skip_bad_images skips it and keeps the good image.
  images.write("good.bmp", bmp(2, 2, 16), "b");
  ImageFolderOptions options;
  options.skip_bad_images = true;
  ImageDataset dataset = load_image_folder(images.root.string(), options);
  CHECK(dataset.size() == 1);
  CHECK(dataset.labels[0] == 1);
}

TEST_CASE("A PNG whose first IDAT chunk is empty decodes or fails cleanly", "[data][fuzz]") {
  // stb_image called memcpy(nullptr, ..., 0) here (UBSan: null argument; seen under
  // scripts/sanitize.sh and the fuzzer). data/stb_image_impl.cpp skips empty copies.
  require_decodes_or_names_itself("regression_png_empty_idat", "empty_idat.png", 5);
}

TEST_CASE("A JPEG scan using a Huffman table no DHT defined decodes or fails cleanly",
          "[data][fuzz]") {
  // stb_image 2.27 mallocs its decoder state and never clears it: such a scan decoded with
  // uninitialised tables, indexing them out of bounds (UBSan: index -22 out of bounds for
  // 'stbi_uc[256]') or tripping stb's code-table assert. data/stb_image_impl.cpp makes stb's
  // allocations zeroed, so the undefined table is an empty one. Both fuzzer files: an AC scan
  // before its table (progressive JPEG), one of them with more garbage.
  for (const char* name :
       {"regression_jpeg_undefined_table_index", "regression_jpeg_undefined_table_assert"}) {
    INFO(name);
    require_decodes_or_names_itself(name, "undefined_table.jpg", 4);
  }
}
