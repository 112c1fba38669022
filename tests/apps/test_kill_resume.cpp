// SIGKILL at arbitrary moments of `cnnlab train` (checkpointing after every step) never
// leaves a torn checkpoint: whatever checkpoint files exist load, and `--resume` finishes
// the run with the full number of steps. Kill times are seeded, so a failure reproduces.
#include <catch2/catch.hpp>
#include <random>

#include "core/error.h"
#include "core/safetensors.h"
#include "tests/apps/cnnlab_process.h"

using namespace cnn;
using namespace cnn::apptest;

namespace {

// Loads every checkpoint file present in `run_dir`; returns how many there were.
int check_checkpoints_load(const std::string& run_dir) {
  int present = 0;
  for (const char* name : {"checkpoint.safetensors", "state.safetensors", "best.safetensors"}) {
    const std::string path = (fs::path(run_dir) / name).string();
    if (!fs::exists(path)) continue;
    ++present;
    INFO(path);
    CHECK_NOTHROW(load_safetensors(path));
  }
  return present;
}

}  // namespace

TEST_CASE("SIGKILL during training leaves loadable checkpoints and --resume completes the run",
          "[apps][reliability]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  ScratchFolder scratch("cnnlab_kill");
  const std::string data_root = scratch.path + "/cifar";
  const int64_t train_images = 1024, batch = 8, epochs = 2;
  const int64_t steps_per_epoch = train_images / batch;  // 128
  const int64_t total_steps = steps_per_epoch * epochs;
  write_tiny_cifar10(data_root, train_images, 16);
  const std::string config = scratch.path + "/config.yaml";
  write_text(config, tiny_config(data_root, train_images, epochs, batch));

  std::mt19937 random(20240501);  // fixed: the same kill schedule every run
  int killed_mid_run = 0, leftover_temporaries = 0;
  const int kills = 5;
  for (int trial = 0; trial < kills; ++trial) {
    const std::string run_dir = scratch.path + "/run" + std::to_string(trial);
    // The first kill comes during start-up (before any checkpoint may exist); the others
    // once the log shows a random step of either epoch, plus 0-20 ms, so that they land at
    // any point of a step (forward, backward, checkpoint write) whatever the machine's speed.
    const int64_t kill_epoch = 1 + static_cast<int64_t>(random() % epochs);
    const int64_t kill_step = 1 + static_cast<int64_t>(random() % (steps_per_epoch - 8));
    const int delay_ms =
        trial == 0 ? static_cast<int>(random() % 50) : static_cast<int>(random() % 21);
    const std::string needle = "epoch " + std::to_string(kill_epoch) + "/" +
                               std::to_string(epochs) + " step " + std::to_string(kill_step) + "/";
    INFO("trial " << trial << ": SIGKILL " << delay_ms << " ms after "
                  << (trial == 0 ? "start" : "'" + needle + "'"));
    {
      CnnlabProcess train(binary, {"train", "--config", config, "--out", run_dir});
      if (trial == 0) {
        train.read_until_ms_after_start(delay_ms);
      } else {
        REQUIRE(train.wait_for_output(needle, 60000));
        train.read_for_ms(delay_ms);
      }
      train.send(SIGKILL);
      ExitStatus status = train.wait();
      if (status.exited) {
        // It finished before the kill (a very fast machine): nothing to resume.
        CHECK(status.code == 0);
        CHECK(summary_status(run_dir) == "completed");
        continue;
      }
      CHECK(status.signal == SIGKILL);
    }

    const int present = check_checkpoints_load(run_dir);
    leftover_temporaries += static_cast<int>(temporary_files(run_dir).size());
    std::string output;
    if (!fs::exists(fs::path(run_dir) / "state.safetensors")) {
      // Killed before the first complete checkpoint: --resume must refuse clearly, not crash.
      (void)present;
      ExitStatus resumed = run_cnnlab(binary, {"train", "--resume", run_dir}, output);
      INFO(output);
      CHECK(resumed.exited);
      CHECK(resumed.code == 1);
      CHECK_THAT(output, Catch::Contains("cnnlab: error:"));
      continue;
    }
    ++killed_mid_run;
    ExitStatus resumed = run_cnnlab(binary, {"train", "--resume", run_dir}, output);
    INFO(output);
    REQUIRE(resumed.exited);
    CHECK(resumed.code == 0);
    CHECK(summary_status(run_dir) == "completed");
    CHECK(read_summary(run_dir)["steps"] == total_steps);
    CHECK(check_checkpoints_load(run_dir) == 3);
    CHECK(temporary_files(run_dir).empty());  // the resume removed what the kill left
  }
  // Trials 1-4 kill after a logged step, so after a checkpoint: if none resumed, this test
  // checked nothing about torn checkpoints.
  CHECK(killed_mid_run >= 1);
  if (leftover_temporaries > 0)
    WARN(leftover_temporaries << " temporary file(s) (*.tmp.<pid>.<n>) left by kills, each "
                                 "removed by the --resume that followed");
}
