// Support for the reliability tests (kill/resume, signals, disk errors): a tiny CIFAR-10
// folder, a tiny training config, and the built `cnnlab` program run as a child process
// whose combined stdout/stderr is read through a pipe while the test decides when to
// signal it. Everything is header-inline so each test file stays self-contained.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

extern char** environ;

namespace cnn::apptest {

namespace fs = std::filesystem;

// A fresh folder under the system temp folder, removed with everything in it.
struct ScratchFolder {
  std::string path;
  explicit ScratchFolder(const std::string& prefix) {
    std::string pattern = (fs::temp_directory_path() / (prefix + "_XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
};

// The cnnlab program of this build tree, or "" (with a WARN) when it was not built.
inline std::string cnnlab_binary() {
  const std::string path = std::string(CNNLAB_BINARY_DIR) + "/cnnlab";
  if (::access(path.c_str(), X_OK) != 0) {
    WARN("skipped: " << path << " is not built (build the cnnlab target first)");
    return "";
  }
  return path;
}

// data_batch_1.bin with `train` records and test_batch.bin with `test` records of random
// pixels and labels, plus batches.meta.txt: enough for a config with limit_train = train.
inline void write_tiny_cifar10(const std::string& root, int64_t train, int64_t test,
                               uint32_t seed = 1) {
  fs::create_directories(root);
  std::mt19937 random(seed);
  auto write_batch = [&](const std::string& name, int64_t records) {
    std::string bytes(static_cast<size_t>(records * 3073), '\0');
    for (int64_t r = 0; r < records; ++r) {
      bytes[r * 3073] = static_cast<char>(r % 10);
      for (int64_t i = 1; i < 3073; ++i) bytes[r * 3073 + i] = static_cast<char>(random() & 0xff);
    }
    std::ofstream(fs::path(root) / name, std::ios::binary) << bytes;
  };
  write_batch("data_batch_1.bin", train);
  write_batch("test_batch.bin", test);
  std::ofstream(fs::path(root) / "batches.meta.txt")
      << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
}

// A small, fast config over the tiny dataset: one conv block and a classifier, SGD with
// momentum (so state.safetensors holds optimizer state), a checkpoint after every step,
// one log line per step (the tests wait for "step 1/"), one thread.
inline std::string tiny_config(const std::string& data_root, int64_t train_images, int64_t epochs,
                               int64_t batch_size = 8, int64_t channels = 4) {
  return "name: reliability\n"
         "seed: 5\n"
         "data: {dataset: cifar10, root: '" +
         data_root + "', batch_size: " + std::to_string(batch_size) +
         ", limit_train: " + std::to_string(train_images) +
         ", limit_test: 16, augment: [hflip], normalize: cifar10, prefetch: true}\n"
         "model:\n"
         "  norm: batch\n"
         "  layers:\n"
         "    - conv2d: {out_channels: " +
         std::to_string(channels) +
         ", kernel_size: 3, padding: 1}\n"
         "    - norm: {}\n"
         "    - relu: {}\n"
         "    - maxpool2d: {kernel_size: 4}\n"
         "    - flatten: {}\n"
         "    - linear: {out_features: 10}\n"
         "optim: {name: sgd, lr: 0.01, momentum: 0.9}\n"
         "schedule: {name: cosine}\n"
         "train: {epochs: " +
         std::to_string(epochs) + ", checkpoint_every: 1, threads: 1, log_every: 1}\n";
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// How a child ended.
struct ExitStatus {
  bool exited = false;  // normal exit (then `code`), else killed by `signal`
  int code = -1;
  int signal = 0;
};

// One run of `cnnlab ARGS...` with stdout and stderr captured into `output`.
class CnnlabProcess {
 public:
  CnnlabProcess(const std::string& binary, const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    // The test runner may ignore or block signals; the child starts with the defaults.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<std::string> argv_strings{binary};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    int error = ::posix_spawn(&pid_, binary.c_str(), &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(fds[1]);
    read_fd_ = fds[0];
    start_ = Clock::now();
    REQUIRE(error == 0);
  }
  ~CnnlabProcess() {
    if (pid_ > 0 && !reaped_) {  // a failed REQUIRE left it running: do not leak it
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (read_fd_ >= 0) ::close(read_fd_);
  }
  CnnlabProcess(const CnnlabProcess&) = delete;
  CnnlabProcess& operator=(const CnnlabProcess&) = delete;

  // Reads output until it contains `needle` (true), the child closes it, or `timeout_ms`
  // passes (false).
  bool wait_for_output(const std::string& needle, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (output_.find(needle) == std::string::npos) {
      if (!read_some(deadline)) return output_.find(needle) != std::string::npos;
    }
    return true;
  }

  // Keeps reading output until `ms` after the child started (the pipe never fills up).
  void read_until_ms_after_start(int ms) {
    const auto deadline = start_ + std::chrono::milliseconds(ms);
    while (read_some(deadline)) {
    }
  }
  void read_for_ms(int ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (read_some(deadline)) {
    }
  }

  void send(int signal) {
    if (!reaped_) ::kill(pid_, signal);
  }

  // Reads the rest of the output and reaps the child; SIGKILLs it after `timeout_ms`.
  ExitStatus wait(int timeout_ms = 60000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (read_some(deadline)) {
    }
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      FAIL_CHECK("cnnlab did not finish within " << timeout_ms << " ms; output:\n" << output_);
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    ExitStatus result;
    result.exited = WIFEXITED(status);
    if (result.exited) result.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    return result;
  }

  const std::string& output() const { return output_; }

 private:
  using Clock = std::chrono::steady_clock;

  // One poll + read; false at end of output or at the deadline.
  bool read_some(Clock::time_point deadline) {
    if (eof_) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{read_fd_, POLLIN, 0};
    int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0) return errno == EINTR;
    if (ready == 0) return false;
    char chunk[4096];
    ssize_t got = ::read(read_fd_, chunk, sizeof chunk);
    if (got < 0) return errno == EINTR || errno == EAGAIN;
    if (got == 0) {
      eof_ = true;
      return false;
    }
    output_.append(chunk, static_cast<size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  int read_fd_ = -1;
  bool eof_ = false;
  bool reaped_ = false;
  Clock::time_point start_;
  std::string output_;
};

// Runs cnnlab to completion and returns its status (output in `output`).
inline ExitStatus run_cnnlab(const std::string& binary, const std::vector<std::string>& args,
                             std::string& output, int timeout_ms = 120000) {
  CnnlabProcess process(binary, args);
  ExitStatus status = process.wait(timeout_ms);
  output = process.output();
  return status;
}

// RUN/summary.json, parsed (a discarded value when it is missing or does not parse).
inline nlohmann::json read_summary(const std::string& run_dir) {
  return nlohmann::json::parse(read_text((fs::path(run_dir) / "summary.json").string()), nullptr,
                               /*allow_exceptions=*/false);
}

// The "status" of RUN/summary.json ("" when there is none).
inline std::string summary_status(const std::string& run_dir) {
  const nlohmann::json summary = read_summary(run_dir);
  if (!summary.is_object() || !summary.contains("status") || !summary["status"].is_string())
    return "";
  return summary["status"].get<std::string>();
}

// Files a writer left behind in `dir` (write_file_atomically's "<name>.tmp.<pid>.<n>").
inline std::vector<std::string> temporary_files(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(dir, ignored))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos)
      found.push_back(entry.path().filename().string());
  return found;
}

}  // namespace cnn::apptest
