// Atomic writes: the target holds the old or the new content, never a torn file, and a failed
// write leaves no temporary file behind. Tests run as root, which ignores permission bits, so
// failures come from a missing folder, a parent that is a regular file, and a full disk (a
// 64 KiB tmpfs mounted for the test; skipped with a warning where mount is not allowed).
#include <stdlib.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"

using namespace cnn;
using Catch::Contains;

namespace {

struct TemporaryFolder {
  std::string path;
  TemporaryFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cnnlab_af_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// A 64 KiB tmpfs at `path`, unmounted at scope exit; `ok` is false where mounting is not permitted.
struct SmallTmpfs {
  std::string path;
  bool ok = false;
  explicit SmallTmpfs(const std::string& where) : path(where) {
    std::filesystem::create_directories(path);
    ok = ::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=64k") == 0;
    if (!ok)
      WARN("skipping the full-disk check: mount of a tmpfs failed: " << std::strerror(errno));
  }
  ~SmallTmpfs() {
    if (ok) ::umount2(path.c_str(), MNT_DETACH);
  }
};

size_t files_in(const std::string& folder) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) ++count;
  return count;
}

}  // namespace

TEST_CASE("write_file_atomically creates and replaces files, leaving no temporary", "[atomic]") {
  TemporaryFolder folder;
  std::string path = folder.path + "/out.bin";
  std::string binary("a\0b\xff", 4);
  write_file_atomically(path, binary);
  REQUIRE(read_file(path) == binary);
  write_file_atomically(path, std::string(200000, 'x'));  // larger than the stream buffer
  REQUIRE(read_file(path) == std::string(200000, 'x'));
  write_file_atomically(path, [](std::ostream& out) {
    out << "header " << 42 << '\n';
    out.write(std::string(100000, 'y').data(), 100000);
  });
  REQUIRE(read_file(path) == "header 42\n" + std::string(100000, 'y'));
  write_file_atomically(path, std::string());
  REQUIRE(read_file(path).empty());
  REQUIRE(files_in(folder.path) == 1);
}

TEST_CASE("write_file_atomically names the path and the reason when the folder is missing",
          "[atomic]") {
  TemporaryFolder folder;
  std::string missing = folder.path + "/absent/out.bin";
  REQUIRE_THROWS_AS(write_file_atomically(missing, "data", "checkpoint"), Error);
  REQUIRE_THROWS_WITH(write_file_atomically(missing, "data", "checkpoint"),
                      "cannot write checkpoint '" + missing + "': No such file or directory");
  // A parent that is a regular file (root ignores permission bits, not this).
  std::string parent = folder.path + "/plain";
  write_file_atomically(parent, "i am a file");
  std::string below = parent + "/out.bin";
  REQUIRE_THROWS_WITH(write_file_atomically(below, "data"),
                      "cannot write file '" + below + "': Not a directory");
  REQUIRE(read_file(parent) == "i am a file");
  REQUIRE(files_in(folder.path) == 1);
}

TEST_CASE("write_file_atomically keeps the old file when the writer throws", "[atomic]") {
  TemporaryFolder folder;
  std::string path = folder.path + "/keep.txt";
  write_file_atomically(path, "old");
  REQUIRE_THROWS_AS(write_file_atomically(path,
                                          [](std::ostream& out) {
                                            out << "half of the new content";
                                            throw std::runtime_error("serializer failed");
                                          }),
                    std::runtime_error);
  REQUIRE(read_file(path) == "old");
  REQUIRE(files_in(folder.path) == 1);
}

TEST_CASE("write_file_atomically keeps the old file when the disk is full", "[atomic]") {
  TemporaryFolder folder;
  SmallTmpfs disk(folder.path + "/disk");
  if (!disk.ok) return;
  std::string path = disk.path + "/checkpoint.safetensors";
  save_safetensors(path, {{"w", Tensor::full({4}, 3.0f)}});
  std::string before = read_file(path);

  std::string big(256 * 1024, 'z');  // four times the tmpfs
  REQUIRE_THROWS_WITH(write_file_atomically(path, big, "checkpoint"),
                      "cannot write checkpoint '" + path + "': No space left on device");
  REQUIRE(read_file(path) == before);
  REQUIRE(files_in(disk.path) == 1);

  // The streaming form and save_safetensors report it the same way.
  REQUIRE_THROWS_WITH(write_file_atomically(path, [&](std::ostream& out) { out << big; }),
                      Contains("No space left on device"));
  REQUIRE_THROWS_WITH(save_safetensors(path, {{"w", Tensor::zeros({100000})}}),
                      "cannot write checkpoint '" + path + "': No space left on device");
  REQUIRE(read_file(path) == before);
  REQUIRE(load_safetensors(path).tensors.at(0).second.to_vector() ==
          std::vector<float>{3, 3, 3, 3});
  REQUIRE(files_in(disk.path) == 1);
}

TEST_CASE("read_file names the path and the reason", "[atomic]") {
  TemporaryFolder folder;
  REQUIRE_THROWS_WITH(read_file(folder.path + "/nope", "config"),
                      "cannot read config '" + folder.path + "/nope': No such file or directory");
  REQUIRE_THROWS_WITH(read_file(folder.path),
                      "cannot read file '" + folder.path + "': Is a directory");
}
