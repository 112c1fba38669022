// Image-folder datasets decoded once at load time with stb_image (+ stb_image_resize).
#include "data/image_folder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/jpeg_guard.h"
#include "data/stb.h"

namespace cnn {

namespace fs = std::filesystem;

bool is_image_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

namespace {
constexpr int64_t kMaxImagePixels = 100'000'000;

// Decodes one file into `out` ([3, height, width]); returns "" or why it failed.
std::string decode_image(const std::string& path, int64_t height, int64_t width, uint8_t* out) {
  // Read here rather than by stbi_load: the bytes are checked before stb_image sees them.
  std::string bytes;
  try {
    bytes = read_file(path, "image");
  } catch (const Error& e) {
    return e.what();  // inside an OpenMP loop: report, never throw
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return "the file is larger than 2 GiB";
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (std::string problem = jpeg_huffman_problem(data, bytes.size()); !problem.empty())
    return problem;
  int w = 0, h = 0, channels_in_file = 0;
  // A header can claim a huge image in a few hundred bytes, and stb_image allocates and
  // decodes all of it (up to 2 GiB, minutes of work per file). Refuse it before decoding.
  // (stbi_info reports a top-down BMP's height as negative, as it is stored.)
  if (stbi_info_from_memory(data, static_cast<int>(bytes.size()), &w, &h, &channels_in_file) &&
      std::abs(static_cast<int64_t>(w)) * std::abs(static_cast<int64_t>(h)) > kMaxImagePixels)
    return "the image is " + std::to_string(w) + "x" + std::to_string(std::abs(h)) +
           ", more than the " + std::to_string(kMaxImagePixels / 1000000) +
           " megapixels cnnlab decodes (a header this large is usually a corrupt file)";
  // Ask for 3 channels: stb converts grey, grey+alpha and RGBA to RGB for us.
  uint8_t* pixels =
      stbi_load_from_memory(data, static_cast<int>(bytes.size()), &w, &h, &channels_in_file, 3);
  if (!pixels) return stbi_failure_reason() ? stbi_failure_reason() : "unknown decoder error";
  if (w <= 0 || h <= 0) {  // stb_image accepts a BMP of height 0; resizing it divides by 0
    stbi_image_free(pixels);
    return "the image is " + std::to_string(w) + "x" + std::to_string(h) + ": it has no pixels";
  }
  std::vector<uint8_t> resized;
  const uint8_t* hwc = pixels;
  if (h != height || w != width) {
    resized.resize(height * width * 3);
    if (!stbir_resize_uint8(pixels, w, h, 0, resized.data(), static_cast<int>(width),
                            static_cast<int>(height), 0, 3)) {
      stbi_image_free(pixels);
      return "resizing from " + std::to_string(w) + "x" + std::to_string(h) + " failed";
    }
    hwc = resized.data();
  }
  // HWC (interleaved RGB) -> CHW planes.
  const int64_t plane = height * width;
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t c = 0; c < 3; ++c) out[c * plane + p] = hwc[p * 3 + c];
  stbi_image_free(pixels);
  return "";
}

std::vector<std::string> sorted_entries(const fs::path& folder, bool directories) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (directories ? entry.is_directory() : entry.is_regular_file())
      names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace

ImageDataset load_image_folder(const std::string& root, const ImageFolderOptions& options) {
  std::error_code error;
  CNN_CHECK(fs::is_directory(root, error), "image folder: ", root,
            " is not a folder; expected root/<class>/<image> (set data.root and "
            "data.train_dir / data.test_dir)");
  CNN_CHECK(options.height > 0 && options.width > 0,
            "image folder: the image size must be "
            "positive, found ",
            options.height, "x", options.width);

  ImageDataset dataset;
  dataset.channels = 3;
  dataset.height = options.height;
  dataset.width = options.width;
  const std::vector<std::string> folders = sorted_entries(root, true);
  dataset.classes = options.classes.empty() ? folders : options.classes;

  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (const auto& folder : folders) {
    auto it = std::find(dataset.classes.begin(), dataset.classes.end(), folder);
    CNN_CHECK(it != dataset.classes.end(), "image folder: ", (fs::path(root) / folder).string(),
              " is a class the training split does not have (its classes are the folders of the "
              "training split)");
    const auto label = static_cast<int64_t>(it - dataset.classes.begin());
    int64_t count = 0;
    for (const auto& name : sorted_entries(fs::path(root) / folder, false)) {
      const std::string path = (fs::path(root) / folder / name).string();
      if (!is_image_file(path)) continue;  // like ImageFolder: other files are not samples
      files.push_back(path);
      labels.push_back(label);
      ++count;
    }
    if (count == 0)
      spdlog::warn("image folder: class folder {} holds no PNG, JPEG or BMP images",
                   (fs::path(root) / folder).string());
  }
  if (options.limit > 0 && options.limit < static_cast<int64_t>(files.size())) {
    files.resize(options.limit);
    labels.resize(options.limit);
  }
  CNN_CHECK(!files.empty(), "image folder: ", root,
            " holds no PNG, JPEG or BMP images in "
            "class subfolders (expected root/<class>/<image>)");

  const auto count = static_cast<int64_t>(files.size());
  const int64_t numel = dataset.image_numel();
  dataset.images.resize(count * numel);
  std::vector<std::string> failures(count);
  // Files decode independently (stb keeps its failure reason per thread).
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < count; ++i)
    failures[i] =
        decode_image(files[i], dataset.height, dataset.width, dataset.images.data() + i * numel);

  int64_t kept = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (!failures[i].empty()) {
      CNN_CHECK(options.skip_bad_images, "image folder: cannot decode ", files[i], ": ",
                failures[i], " (set data.skip_bad_images: true to skip unreadable images)");
      spdlog::warn("image folder: skipping {}: {}", files[i], failures[i]);
      continue;
    }
    if (kept != i)
      std::copy_n(dataset.images.data() + i * numel, numel, dataset.images.data() + kept * numel);
    labels[kept++] = labels[i];
  }
  CNN_CHECK(kept > 0, "image folder: none of the ", count, " images under ", root,
            " could be decoded");
  labels.resize(kept);
  dataset.labels = std::move(labels);
  dataset.images.resize(kept * numel);
  return dataset;
}

}  // namespace cnn
