// Reader of the CIFAR-10 binary release, with strict validation: a damaged file is an
// error naming the file and record, never a silently shorter dataset.
#include "data/cifar10.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace cnn {

namespace fs = std::filesystem;

namespace {
const char* const kStandardClasses[kCifar10Classes] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

std::vector<std::string> read_class_names(const std::string& root) {
  const std::string path = (fs::path(root) / "batches.meta.txt").string();
  std::ifstream in(path);
  std::vector<std::string> names;
  if (in) {
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) names.push_back(line);
    }
  }
  if (names.size() != kCifar10Classes) {
    spdlog::warn(
        "{}: expected 10 class names, one a line, found {}; using the standard "
        "CIFAR-10 names",
        path, in ? std::to_string(names.size()) : "no such file");
    names.assign(kStandardClasses, kStandardClasses + kCifar10Classes);
  }
  return names;
}

// Where data_batch_1.bin lives for this candidate, or "" when it is not there.
std::string cifar10_folder(const std::string& candidate) {
  std::error_code error;
  if (fs::is_regular_file(fs::path(candidate) / "data_batch_1.bin", error)) return candidate;
  const fs::path nested = fs::path(candidate) / "cifar-10-batches-bin";
  if (fs::is_regular_file(nested / "data_batch_1.bin", error)) return nested.string();
  return "";
}
}  // namespace

void read_cifar10_batch(const std::string& path, ImageDataset& dataset, int64_t limit) {
  std::error_code error;
  CNN_CHECK(fs::is_regular_file(path, error), "CIFAR-10: cannot find ", path,
            "; check data.root or CIFAR10_DIR (scripts/get_cifar10.sh downloads the data)");
  const auto bytes = static_cast<int64_t>(fs::file_size(path, error));
  CNN_CHECK(!error && bytes > 0 && bytes % kCifar10RecordBytes == 0, "CIFAR-10: ", path, " has ",
            bytes, " bytes, which is not a whole number of ", kCifar10RecordBytes,
            "-byte records (", bytes / kCifar10RecordBytes, " records and ",
            bytes % kCifar10RecordBytes,
            " bytes over); the file is truncated or not a CIFAR-10 batch - download it again");
  int64_t records = bytes / kCifar10RecordBytes;
  if (limit > 0 && limit < records) records = limit;

  std::vector<uint8_t> buffer(records * kCifar10RecordBytes);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
  CNN_CHECK(in.gcount() == static_cast<std::streamsize>(buffer.size()), "CIFAR-10: could not read ",
            path, " (read ", in.gcount(), " of ", buffer.size(), " bytes)");

  CNN_CHECK(dataset.channels == 3 && dataset.height == 32 && dataset.width == 32,
            "CIFAR-10: records are 3x32x32 but the dataset holds ", dataset.channels, "x",
            dataset.height, "x", dataset.width, " images");
  const int64_t pixels = kCifar10RecordBytes - 1;
  const size_t first = dataset.labels.size();
  dataset.labels.resize(first + records);
  dataset.images.resize((first + records) * pixels);
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* record = buffer.data() + r * kCifar10RecordBytes;
    CNN_CHECK(record[0] < kCifar10Classes, "CIFAR-10: ", path, " record ", r, " (byte offset ",
              r * kCifar10RecordBytes, ") has label ", int(record[0]),
              ", expected 0-9; the file is damaged or not a CIFAR-10 batch");
    dataset.labels[first + r] = record[0];
    // The record's pixels are already channel planes (R, G, B), i.e. CHW.
    std::copy(record + 1, record + kCifar10RecordBytes,
              dataset.images.data() + (first + r) * pixels);
  }
}

ImageDataset load_cifar10(const std::string& root, bool train, int64_t limit) {
  ImageDataset dataset;
  dataset.channels = 3;
  dataset.height = 32;
  dataset.width = 32;
  const int64_t expected = train ? 50000 : 10000;
  dataset.images.reserve((limit > 0 ? std::min(limit, expected) : expected) * 3 * 32 * 32);
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }
  for (const auto& file : files) {
    const int64_t remaining = limit > 0 ? limit - dataset.size() : 0;
    if (limit > 0 && remaining <= 0) break;
    read_cifar10_batch((fs::path(root) / file).string(), dataset, remaining);
  }
  dataset.classes = read_class_names(root);
  return dataset;
}

std::string resolve_cifar10_root(const std::string& configured_root) {
  struct Candidate {
    std::string path, origin;
  };
  std::vector<Candidate> candidates;
  if (!configured_root.empty()) candidates.push_back({configured_root, "data.root"});
  if (const char* env = std::getenv("CIFAR10_DIR"); env && *env)
    candidates.push_back({env, "CIFAR10_DIR"});
  candidates.push_back({"data/cifar-10-batches-bin", "the default location"});

  std::string tried;
  for (const auto& candidate : candidates) {
    const std::string folder = cifar10_folder(candidate.path);
    if (!folder.empty()) {
      if (!configured_root.empty() && candidate.origin != "data.root")
        spdlog::warn("data.root '{}' holds no data_batch_1.bin; using {} from {} instead",
                     configured_root, folder, candidate.origin);
      return folder;
    }
    tried += "\n  " + candidate.path + " (" + candidate.origin + ")";
  }
  CNN_FAIL("CIFAR-10: no folder holding data_batch_1.bin was found; tried, in order:", tried,
           "\nSet CIFAR10_DIR to a cifar-10-batches-bin folder (or data.root in the config), "
           "or run scripts/get_cifar10.sh to download it into data/.");
}

}  // namespace cnn
