// Disk trouble during `cnnlab train`: a run directory whose disk fills up mid-run, a read-only
// file system, and an --out whose parent is a regular file. Each must end in a clear error
// naming the path and a non-zero exit, never a crash or a torn checkpoint; a run that fails
// so is recorded as "failed" in runs.db when that is on another disk. The full and
// read-only disks are small tmpfs mounts, which need root (CAP_SYS_ADMIN): without it those
// cases WARN and return.
#include <sched.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "apps/run_store.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tests/apps/cnnlab_process.h"

using namespace cnn;
using namespace cnn::apptest;

namespace {

// A tmpfs mounted on `folder` for the test's duration (always unmounted, even on failure).
struct TmpfsMount {
  std::string folder;
  bool mounted = false;
  TmpfsMount(const std::string& where, const std::string& options, unsigned long flags = 0)
      : folder(where) {
    fs::create_directories(folder);
    // In a mount namespace of this process's own (cnnlab, its child, shares it), so the
    // mount disappears with the process even when it is killed before unmounting.
    static const bool private_mounts =
        ::unshare(CLONE_NEWNS) == 0 &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    mounted =
        private_mounts && ::mount("tmpfs", folder.c_str(), "tmpfs", flags, options.c_str()) == 0;
    if (!mounted)
      WARN("skipped: cannot mount a tmpfs on " << folder << " (" << std::strerror(errno)
                                               << "; needs root)");
  }
  ~TmpfsMount() {
    if (mounted && ::umount2(folder.c_str(), 0) != 0) ::umount2(folder.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
};

// Writes zeros into `path` until the file system is full; returns the bytes written.
int64_t fill_disk(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::vector<char> block(1 << 16, 0);
  int64_t total = 0;
  while (true) {
    ssize_t written = ::write(fd, block.data(), block.size());
    if (written <= 0) break;
    total += written;
  }
  ::close(fd);
  return total;
}

}  // namespace

TEST_CASE("A disk that fills up mid-run: clear error naming the path, the last checkpoint loads",
          "[apps][reliability]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  ScratchFolder scratch("cnnlab_disk");
  const std::string data_root = scratch.path + "/cifar";
  write_tiny_cifar10(data_root, 512, 16);
  const std::string config = scratch.path + "/config.yaml";
  write_text(config, tiny_config(data_root, 512, 2));
  TmpfsMount disk(scratch.path + "/disk", "size=16m,mode=0755");
  if (!disk.mounted) return;
  // The run directory is the small disk itself, so runs.db (in its parent) is on the big one:
  // on a full disk SQLite cannot record anything, and that the failure is recorded is checked.
  const std::string run_dir = disk.folder;

  CnnlabProcess train(binary, {"train", "--config", config, "--out", run_dir});
  // Training is under way and the first checkpoint is complete: now take all the space.
  REQUIRE(train.wait_for_output("step 2/", 60000));
  const int64_t filled = fill_disk(disk.folder + "/filler");
  INFO("filled the remaining " << filled << " bytes");
  ExitStatus status = train.wait();
  INFO(train.output());
  REQUIRE(status.exited);  // an error exit, not a crash
  CHECK(status.code != 0);
  CHECK_THAT(train.output(), Catch::Contains("No space left on device"));
  CHECK_THAT(train.output(), Catch::Contains("cnnlab: error:"));
  CHECK_THAT(train.output(), Catch::Contains(run_dir));

  // The checkpoints of the last step that completed are intact and nothing partial is left.
  for (const char* name : {"checkpoint.safetensors", "state.safetensors"}) {
    INFO(name);
    CHECK_NOTHROW(load_safetensors(run_dir + "/" + name));
  }
  CHECK(temporary_files(run_dir).empty());

  // runs.db records the run as failed, with the error. summary.json, on the full disk, is
  // written when the last page had room for it, else there is none; never a torn one.
  {
    RunStore store(scratch.path + "/runs.db");
    std::vector<RunRow> runs = store.runs();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].status == "failed");
    CHECK_THAT(runs[0].summary_json, Catch::Contains("No space left on device"));
  }
  if (fs::exists(run_dir + "/summary.json")) CHECK(summary_status(run_dir) == "failed");

  // With space again, the run resumes from that checkpoint and completes.
  fs::remove(disk.folder + "/filler");
  std::string output;
  ExitStatus resumed = run_cnnlab(binary, {"train", "--resume", run_dir}, output);
  INFO(output);
  REQUIRE(resumed.exited);
  CHECK(resumed.code == 0);
  CHECK(summary_status(run_dir) == "completed");
}

TEST_CASE("A read-only file system as --out: clear error, non-zero exit", "[apps][reliability]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  ScratchFolder scratch("cnnlab_rofs");
  const std::string data_root = scratch.path + "/cifar";
  write_tiny_cifar10(data_root, 16, 16);
  const std::string config = scratch.path + "/config.yaml";
  write_text(config, tiny_config(data_root, 16, 1));
  TmpfsMount disk(scratch.path + "/readonly", "size=1m", MS_RDONLY);
  if (!disk.mounted) return;

  const std::string run_dir = disk.folder + "/run";
  std::string output;
  ExitStatus status = run_cnnlab(binary, {"train", "--config", config, "--out", run_dir}, output);
  INFO(output);
  REQUIRE(status.exited);
  CHECK(status.code == 1);
  CHECK_THAT(output, Catch::Contains("cnnlab: error:"));
  CHECK_THAT(output, Catch::Contains(run_dir));
  CHECK_THAT(output, Catch::Contains("Read-only file system"));
}

TEST_CASE("A regular file as the parent of --out: clear error, non-zero exit",
          "[apps][reliability]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  ScratchFolder scratch("cnnlab_notdir");
  const std::string data_root = scratch.path + "/cifar";
  write_tiny_cifar10(data_root, 16, 16);
  const std::string config = scratch.path + "/config.yaml";
  write_text(config, tiny_config(data_root, 16, 1));
  const std::string file = scratch.path + "/a_file";
  write_text(file, "not a folder\n");

  const std::string run_dir = file + "/run";
  std::string output;
  ExitStatus status = run_cnnlab(binary, {"train", "--config", config, "--out", run_dir}, output);
  INFO(output);
  REQUIRE(status.exited);
  CHECK(status.code == 1);
  CHECK_THAT(output, Catch::Contains("cnnlab: error:"));
  CHECK_THAT(output, Catch::Contains(run_dir));
  CHECK_THAT(output, Catch::Contains("Not a directory"));
  CHECK(read_text(file) == "not a folder\n");  // untouched
}
