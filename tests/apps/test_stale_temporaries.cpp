// A SIGKILL during a checkpoint, summary or metrics write leaves write_file_atomically's
// temporary "<name>.tmp.<pid>.<n>" in the run directory. Starting or resuming the run removes
// those, and only those: nothing else in the folder, nothing below or beside it.
#include <catch2/catch.hpp>
#include <filesystem>

#include "apps/config.h"
#include "apps/run_files.h"
#include "apps/trainer.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kStale = {"checkpoint.safetensors.tmp.4242.0",
                                         "state.safetensors.tmp.17.3", "summary.json.tmp.1.12",
                                         "metrics.csv.tmp.99999.7"};
// Near misses: a pid or counter that is not a number, a missing part, a name that merely
// contains ".tmp.", and a folder with the pattern's name.
const std::vector<std::string> kKept = {"notes.tmp.txt",
                                        "checkpoint.safetensors.tmp.4242",
                                        "state.safetensors.tmp.x.3",
                                        "a.tmp.1.2.bak",
                                        ".tmp.1.2",
                                        "keep.tmp.1.2x"};

void plant(const std::string& dir) {
  for (const std::string& name : kStale) write_text(dir + "/" + name, "partial");
  for (const std::string& name : kKept) write_text(dir + "/" + name, "mine");
  fs::create_directories(dir + "/folder.tmp.5.6");
  write_text(dir + "/sub/inner.tmp.1.2", "below the run directory");
}

void check_only_stale_removed(const std::string& dir) {
  for (const std::string& name : kStale) {
    INFO(name);
    CHECK_FALSE(fs::exists(dir + "/" + name));
  }
  for (const std::string& name : kKept) {
    INFO(name);
    CHECK(read_text(dir + "/" + name) == "mine");
  }
  CHECK(fs::is_directory(dir + "/folder.tmp.5.6"));
  CHECK(fs::exists(dir + "/sub/inner.tmp.1.2"));
}

TrainResult train(const Config& config, const std::string& dir, bool resume) {
  TrainOptions options;
  (resume ? options.resume_dir : options.out_dir) = dir;
  options.quiet = true;
  return train_run(config, options);
}

}  // namespace

TEST_CASE("remove_stale_temporaries removes <name>.tmp.<pid>.<n> files and nothing else",
          "[apps][reliability]") {
  TempDir tmp;
  plant(tmp / "run");
  write_text(tmp / "beside.tmp.1.2", "in the parent folder");
  std::vector<std::string> removed = remove_stale_temporaries(tmp / "run");
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> expected = kStale;
  std::sort(expected.begin(), expected.end());
  CHECK(removed == expected);
  check_only_stale_removed(tmp / "run");
  CHECK(fs::exists(tmp / "beside.tmp.1.2"));
  CHECK(remove_stale_temporaries(tmp / "missing").empty());  // no folder: nothing to do
}

TEST_CASE("train: starting or resuming a run removes the temporaries a killed write left",
          "[apps][reliability]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 1));
  Config config = load_config(tmp / "tiny.yaml");

  SECTION("a fresh run in a folder that already has them") {
    plant(tmp / "runs/a");
    REQUIRE(train(config, tmp / "runs/a", false).status == "completed");
    check_only_stale_removed(tmp / "runs/a");
    CHECK_THAT(read_text(tmp / "runs/a/train.log"),
               Contains("removed 'state.safetensors.tmp.17.3'"));
  }
  SECTION("a resumed run") {
    REQUIRE(train(config, tmp / "runs/b", false).status == "completed");
    plant(tmp / "runs/b");
    write_text(tmp / "runs/b/config.yaml", tiny_config_yaml(tmp / "data", "batch", 2));
    REQUIRE(train(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true).status ==
            "completed");
    check_only_stale_removed(tmp / "runs/b");
  }
}
