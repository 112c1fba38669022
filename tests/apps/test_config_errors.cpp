// Config validation: every mistake is reported before training starts, as a sentence naming
// the key path or the layer index, and leaves nothing on disk (no run directory, no runs.db).
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "apps/config.h"
#include "apps/trainer.h"
#include "core/error.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// Loads the tiny config (after `edit` changed its YAML), then trains it; the error must come
// from one of the two and mention every string of `expected`, with nothing written.
void expect_error_before_training(const std::function<void(YAML::Node&)>& edit,
                                  const std::vector<std::string>& expected) {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 10, 5);
  YAML::Node document = YAML::Load(tiny_config_yaml(tmp / "data"));
  edit(document);
  std::string message;
  try {
    Config config = config_from_yaml(document, "tiny.yaml");
    TrainOptions options;
    options.out_dir = tmp / "runs/bad";
    options.quiet = true;
    train_run(config, options);
  } catch (const Error& e) {
    message = e.what();
  }
  INFO("error message: " << message);
  REQUIRE_FALSE(message.empty());
  for (const std::string& part : expected) CHECK_THAT(message, Contains(part));
  CHECK_FALSE(fs::exists(tmp / "runs"));  // neither the run directory nor runs.db
}

}  // namespace

TEST_CASE("config: the tiny config itself is valid", "[apps][config]") {
  TempDir tmp;
  Config config = config_from_yaml(YAML::Load(tiny_config_yaml(tmp / "data")), "tiny.yaml");
  CHECK(config.name == "tiny");
  CHECK(config.seed == 3);
  CHECK(config.train.epochs == 2);
  CHECK(config.train.threads == 1);
  CHECK(config.train.layer_stats_every == 0);  // defaults for keys not given
  CHECK(config.train.nan_check == "loss");
}

TEST_CASE("config: an unknown top-level key is named with the known ones", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["trian"] = YAML::Load("{epochs: 1}"); },
                               {"trian", "unknown key", "train"});
}

TEST_CASE("config: an unknown train key is named by its path", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["train"]["epoch"] = 3; },
                               {"train.epoch", "unknown key", "epochs"});
}

TEST_CASE("config: a wrong type is named by its path with the value found", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["train"]["epochs"] = "abc"; },
                               {"train.epochs", "integer", "'abc'"});
  expect_error_before_training(
      [](YAML::Node& d) { d["train"]["clip_grad_norm"] = YAML::Load("[1]"); },
      {"train.clip_grad_norm", "a number", "a list"});
  expect_error_before_training([](YAML::Node& d) { d["train"]["epochs"] = 0; },
                               {"train.epochs", "at least 1"});
  expect_error_before_training([](YAML::Node& d) { d["train"]["nan_check"] = "always"; },
                               {"train.nan_check", "'always'"});
}

TEST_CASE("config: a bad dist key fails without mpirun too", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["dist"]["overlap"] = "maybe"; },
                               {"dist.overlap", "'maybe'", "iallreduce"});
  expect_error_before_training([](YAML::Node& d) { d["dist"]["bucket_kbs"] = 1; },
                               {"dist", "unknown key", "bucket_kb"});
}

TEST_CASE("config: a missing section or layer list is named", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d.remove("optim"); }, {"optim", "missing"});
  expect_error_before_training([](YAML::Node& d) { d["model"].remove("layers"); },
                               {"model.layers", "required"});
}

TEST_CASE("config: an unknown layer type names the layer index", "[apps][config]") {
  expect_error_before_training(
      [](YAML::Node& d) { d["model"]["layers"][2] = YAML::Load("{relux: {}}"); },
      {"model.layers[2]", "unknown layer type 'relux'", "relu"});
}

TEST_CASE("config: an unknown layer key names the layer and key", "[apps][config]") {
  expect_error_before_training(
      [](YAML::Node& d) { d["model"]["layers"][0]["conv2d"]["kernal_size"] = 3; },
      {"model.layers[0].conv2d.kernal_size", "unknown key", "kernel_size"});
}

TEST_CASE("config: a layer whose input shape does not fit names the index and shapes",
          "[apps][config]") {
  SECTION("linear on a 4-d input (flatten missing)") {
    expect_error_before_training([](YAML::Node& d) { d["model"]["layers"].remove(4); },
                                 {"model.layers[4]", "linear", "[1, 8, 8, 8]", "flatten"});
  }
  SECTION("a kernel larger than the padded input") {
    expect_error_before_training(
        [](YAML::Node& d) {
          d["model"]["layers"][0] = YAML::Load("{conv2d: {out_channels: 8, kernel_size: 40}}");
        },
        {"model.layers[0]", "conv2d", "[1, 3, 32, 32]"});
  }
  SECTION("a required layer key missing") {
    expect_error_before_training(
        [](YAML::Node& d) { d["model"]["layers"][5] = YAML::Load("{linear: {}}"); },
        {"model.layers[5].linear.out_features"});
  }
}

TEST_CASE("config: an unknown optimizer is named with the choices", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["optim"]["name"] = "sgdd"; },
                               {"optim.name", "unknown optimizer 'sgdd'", "adam"});
  expect_error_before_training([](YAML::Node& d) { d["optim"]["lr"] = -1; }, {"optim.lr", ">= 0"});
}

TEST_CASE("config: a bad norm choice is named with the choices", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["model"]["norm"] = "batchy"; },
                               {"model.norm", "'batchy'", "group", "none"});
}

TEST_CASE("config: a bad data key is named before training", "[apps][config]") {
  expect_error_before_training([](YAML::Node& d) { d["data"]["batch_sise"] = 8; },
                               {"data.batch_sise"});
  expect_error_before_training([](YAML::Node& d) { d["schedule"]["name"] = "cosinus"; },
                               {"schedule", "cosinus"});
}

TEST_CASE("config: load_config names the file and the YAML line of a syntax error",
          "[apps][config]") {
  TempDir tmp;
  write_text(tmp / "broken.yaml", "name: x\ntrain: {epochs: [1\n");
  try {
    load_config(tmp / "broken.yaml");
    FAIL("no error for invalid YAML");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Contains("broken.yaml") && Contains("line"));
  }
  CHECK_THROWS_WITH(load_config(tmp / "missing.yaml"),
                    Contains("missing.yaml") && Contains("cannot open"));
  write_text(tmp / "list.yaml", "- a\n- b\n");
  CHECK_THROWS_WITH(load_config(tmp / "list.yaml"), Contains("list.yaml") && Contains("mapping"));
}

TEST_CASE("config: a bad model.conv_algorithm is named with the choices", "[apps][config]") {
  expect_error_before_training(
      [](YAML::Node& d) { d["model"]["conv_algorithm"] = "fft"; },
      {"model.conv_algorithm", "auto", "winograd", "direct", "im2col", "'fft'"});
}
