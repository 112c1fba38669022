// Tiny CIFAR-10-format datasets for the app tests: data_batch_1..5.bin, test_batch.bin and
// batches.meta.txt in the official binary layout, holding a few hundred LEARNABLE synthetic
// 32x32 images (each class its own colour and stripe direction, plus noise), so that a
// one-conv model's loss falls within an epoch or two. Also a temporary folder, the tiny
// model config the tests share, and small file readers.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace cnn::testing {

// A fresh folder under the system temp directory, removed with everything in it.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix = "cnnlab_apps") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("TempDir: mkdtemp failed for " + pattern);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const {
    return (std::filesystem::path(path) / name).string();
  }
};

// One 3,073-byte record of class `label`: the class colour, darkened on every other pair of
// rows (even classes) or columns (odd classes), plus uniform noise of +-40.
inline void append_tiny_record(std::vector<uint8_t>& out, int label, std::mt19937& rng) {
  static const int palette[10][3] = {
      {230, 40, 40},  {40, 230, 40},  {40, 40, 230},  {230, 230, 40},  {230, 40, 230},
      {40, 230, 230}, {230, 130, 40}, {130, 40, 230}, {130, 230, 130}, {120, 120, 120}};
  std::uniform_int_distribution<int> noise(-40, 40);
  out.push_back(static_cast<uint8_t>(label));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        bool stripe = ((label % 2 == 0 ? y : x) / 2) % 2 == 0;
        int value = palette[label][c] * (stripe ? 10 : 6) / 10 + noise(rng);
        out.push_back(static_cast<uint8_t>(std::clamp(value, 0, 255)));
      }
}

// Writes `train_images` records split over data_batch_1..5.bin (the reader refuses an empty
// batch file, so at least 5) and `test_images` into test_batch.bin, labels cycling 0..9 in a
// seeded random order, and the ten standard class names.
inline void write_tiny_cifar(const std::string& folder, int64_t train_images = 160,
                             int64_t test_images = 64, uint32_t seed = 7) {
  if (train_images < 5 || test_images < 1)
    throw std::runtime_error("write_tiny_cifar: need >= 5 training and >= 1 test images");
  std::filesystem::create_directories(folder);
  std::mt19937 rng(seed);
  auto labels = [&](int64_t count) {
    std::vector<int> out(count);
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<int>(i % 10);
    std::shuffle(out.begin(), out.end(), rng);
    return out;
  };
  auto write = [&](const std::string& name, const std::vector<int>& file_labels) {
    std::vector<uint8_t> bytes;
    for (int label : file_labels) append_tiny_record(bytes, label, rng);
    std::ofstream out(std::filesystem::path(folder) / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  };
  std::vector<int> train = labels(train_images);
  for (int64_t f = 0; f < 5; ++f) {
    int64_t begin = f * train_images / 5, end = (f + 1) * train_images / 5;
    write("data_batch_" + std::to_string(f + 1) + ".bin",
          std::vector<int>(train.begin() + begin, train.begin() + end));
  }
  write("test_batch.bin", labels(test_images));
  std::ofstream meta(std::filesystem::path(folder) / "batches.meta.txt");
  meta << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
}

// The shared tiny run: conv(8) -> norm -> relu -> maxpool(4) -> flatten -> linear(10), SGD,
// batches of 32, one thread. `extra` is appended inside the train section's mapping.
inline std::string tiny_config_yaml(const std::string& data_root, const std::string& norm = "batch",
                                    int64_t epochs = 2, double lr = 0.05,
                                    const std::string& extra_train = "") {
  std::ostringstream out;
  out << "name: tiny\n"
         "seed: 3\n"
         "data:\n"
         "  root: '"
      << data_root
      << "'\n"
         "  batch_size: 32\n"
         "  normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}\n"
         "model:\n"
         "  norm: "
      << norm
      << "\n"
         "  layers:\n"
         "    - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}\n"
         "    - norm: {}\n"
         "    - relu: {}\n"
         "    - maxpool2d: {kernel_size: 4}\n"
         "    - flatten: {}\n"
         "    - linear: {out_features: 10}\n"
         "optim: {name: sgd, lr: "
      << lr
      << ", momentum: 0.9}\n"
         "schedule: {name: constant}\n"
         "train: {epochs: "
      << epochs << ", threads: 1, log_every: 1000"
      << (extra_train.empty() ? "" : ", " + extra_train) << "}\n";
  return out.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  for (std::string field; std::getline(stream, field, ',');) fields.push_back(field);
  return fields;
}

// True when the file starts with the 8-byte PNG signature and has more after it.
inline bool is_png(const std::string& path) {
  std::string bytes = read_text(path);
  return bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

// Runs a shell command, returning its exit status and its stdout (stderr goes where `command`
// sends it; append "2>&1" to capture it).
struct CommandResult {
  int status = -1;
  std::string output;
};
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

}  // namespace cnn::testing
