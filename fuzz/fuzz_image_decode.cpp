// libFuzzer target: image-folder decoding (stb_image, then the resize and HWC->CHW copy of
// data/image_folder.cpp), driven through load_image_folder since the decoder takes files:
//   [1 byte: extension (png, jpg, bmp) and skip_bad_images] [1 byte: target size] [file bytes]
// The target size (1-64 square, or 32x32) makes the resize path run for most inputs.
// cnn::Error is a clean rejection; anything else (sanitizer report, other exception, a
// huge allocation from a tiny header) is a finding.
//
// Inputs whose header declares more than kMaxFuzzPixels are skipped: decoding them is
// legitimate but slow (a 16-megapixel JPEG of 400 bytes takes ~30 s under ASan), and the
// loader's own cap (100 megapixels, data/image_folder.cpp) is what bounds real files.
#include <omp.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "data/image_folder.h"
#include "data/jpeg_guard.h"
#include "data/stb.h"
#include "fuzz/fuzz_temp_dir.h"

namespace {
constexpr int64_t kMaxFuzzPixels = 1 << 18;

bool declares_a_large_image(const uint8_t* data, size_t size) {
  // stbi_info itself would hit the Huffman overflow the guard exists for: guard first.
  if (!cnn::jpeg_huffman_problem(data, size).empty()) return false;
  int w = 0, h = 0, channels = 0;
  return stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &channels) &&
         std::abs(static_cast<int64_t>(w)) * std::abs(static_cast<int64_t>(h)) > kMaxFuzzPixels;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  omp_set_num_threads(1);  // one file per input: threads would only add noise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 2 || declares_a_large_image(data + 2, size - 2)) return 0;
  static const char* const kExtensions[] = {".png", ".jpg", ".bmp", ".JPEG"};
  const char* extension = kExtensions[data[0] % 4];
  const bool skip_bad = (data[0] >> 2) & 1;
  cnn::ImageFolderOptions options;
  options.skip_bad_images = skip_bad;
  if (data[1] != 0) options.height = options.width = 1 + data[1] % 64;

  const fs::path root = cnn::fuzzing::scratch_dir() / "images";
  std::error_code ignored;
  fs::remove_all(root, ignored);  // exactly one image per input
  cnn::fuzzing::write_bytes(root / "class_a" / (std::string("image") + extension), data + 2,
                            size - 2);
  try {
    cnn::ImageDataset dataset = cnn::load_image_folder(root.string(), options);
    if (dataset.size() != 1 || dataset.labels[0] != 0 || dataset.classes.size() != 1) std::abort();
    if (dataset.images.size() != static_cast<size_t>(3 * options.height * options.width))
      std::abort();
  } catch (const cnn::Error&) {
  }
  return 0;
}
