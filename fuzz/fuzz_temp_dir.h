// A per-process scratch folder in /dev/shm (memory, not disk) for fuzz targets whose reader
// takes file paths: each input is written to a file there and read back through the real API.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace cnn::fuzzing {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::filesystem::path path = base / ("cnnlab-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    // Removed at exit; a crashed run leaves it behind (fuzz.sh cleans cnnlab-fuzz-* up).
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return path;
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::perror(("fuzz harness: cannot write " + path.string()).c_str());
    std::abort();
  }
}

}  // namespace cnn::fuzzing
