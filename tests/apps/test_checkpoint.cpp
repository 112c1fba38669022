// Checkpoints: checkpoint.safetensors loads into a freshly built model with identical values
// and outputs; --init-from starts from matching weights and refuses mismatching ones, naming
// the tensor and both shapes, before anything is written.
#include <catch2/catch.hpp>
#include <filesystem>

#include "apps/config.h"
#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/run_files.h"
#include "apps/trainer.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "tests/apps/tiny_cifar.h"
#include "tests/same_values.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

const Tensor* find(const std::vector<NamedTensor>& tensors, const std::string& name) {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

Config tiny_config(const std::string& data_root, int64_t epochs, double lr,
                   const std::string& extra = "") {
  return config_from_yaml(YAML::Load(tiny_config_yaml(data_root, "batch", epochs, lr, extra)),
                          "tiny.yaml");
}

TrainResult train(const Config& config, const std::string& out_dir,
                  const std::string& init_from = "") {
  TrainOptions options;
  options.out_dir = out_dir;
  options.init_from = init_from;
  options.quiet = true;
  return train_run(config, options);
}

}  // namespace

TEST_CASE("checkpoint: loads into a fresh model with identical values and outputs",
          "[apps][checkpoint]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  Config config = tiny_config(tmp / "data", 2, 0.05);
  TrainResult result = train(config, tmp / "run");
  REQUIRE(result.status == "completed");

  SafetensorsFile file = load_safetensors(tmp / "run/checkpoint.safetensors");
  // PyTorch names, parameters and BN buffers alike (what torch's load_state_dict expects).
  std::vector<std::string> names;
  for (const auto& [name, t] : file.tensors) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean",
                                          "1.running_var", "1.num_batches_tracked", "5.weight",
                                          "5.bias"});
  CHECK(find(file.tensors, "1.num_batches_tracked")->to_int64_vector() ==
        std::vector<int64_t>{2 * 4});  // one per training step
  CHECK(file.metadata["format"] == "pt");

  // A model built with another seed differs until the checkpoint is loaded.
  Config other = config;
  other.seed = 99;
  DataConfig data = parse_data_config(config.root["data"], "data");
  auto model = build_model_from_config(other, data);
  CHECK_FALSE(same_values(*find(model->state_dict(), "0.weight"), *find(file.tensors, "0.weight")));
  model->load_state_dict(file.tensors, true);
  for (const auto& [name, tensor] : model->state_dict()) {
    INFO(name);
    REQUIRE(find(file.tensors, name) != nullptr);
    CHECK(same_values(tensor, *find(file.tensors, name)));
  }

  // state.safetensors holds the same weights under "model." plus the optimizer state.
  SafetensorsFile state = load_safetensors(tmp / "run/state.safetensors");
  for (const auto& [name, tensor] : file.tensors) {
    INFO(name);
    REQUIRE(find(state.tensors, "model." + name) != nullptr);
    CHECK(same_values(tensor, *find(state.tensors, "model." + name)));
  }
  bool has_optimizer_state = false;
  for (const auto& [name, t] : state.tensors)
    has_optimizer_state |= name.rfind("optimizer.", 0) == 0;
  CHECK(has_optimizer_state);
  CHECK(state.metadata["epoch"] == "2");
  CHECK(state.metadata["batch"] == "0");
  CHECK(state.metadata["step"] == "8");

  // Identical eval outputs: two models loaded from the file agree exactly, and evaluating the
  // loaded model reproduces the last epoch's test accuracy and loss.
  auto twin = build_model_from_config(config, data);
  twin->load_state_dict(file.tensors, true);
  model->eval();
  twin->eval();
  Generator generator(5);
  Tensor input = randn({4, 3, 32, 32}, generator);
  {
    NoGradGuard no_grad;
    CHECK(same_values(model->forward(input), twin->forward(input)));
  }
  Datasets datasets = load_datasets(data);
  DataLoader loader(datasets.test, loader_options(data, datasets.normalization, false),
                    config.seed);
  EvalResult eval = evaluate(*model, loader, 10);
  CHECK(eval.images == 64);
  CHECK(eval.accuracy == result.final_test_acc);
  CHECK(eval.loss == Approx(result.epochs.back().test_loss).epsilon(1e-6));
}

TEST_CASE("checkpoint: --init-from matching weights are the starting point", "[apps][checkpoint]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  REQUIRE(train(tiny_config(tmp / "data", 1, 0.05), tmp / "source").status == "completed");
  SafetensorsFile source = load_safetensors(tmp / "source/checkpoint.safetensors");

  // lr 0 and one step: the parameters cannot move, so the new run's checkpoint shows exactly
  // what it started from (BN's running statistics do move: they are updated by the forward).
  Config config = tiny_config(tmp / "data", 1, 0.0, "max_steps: 1");
  config.seed = 42;  // another initialisation, which --init-from must replace
  REQUIRE(train(config, tmp / "start", tmp / "source/checkpoint.safetensors").status ==
          "completed");
  SafetensorsFile start = load_safetensors(tmp / "start/checkpoint.safetensors");
  for (const char* name : {"0.weight", "1.weight", "1.bias", "5.weight", "5.bias"}) {
    INFO(name);
    CHECK(same_values(*find(start.tensors, name), *find(source.tensors, name)));
  }
  // Without --init-from, seed 42 starts elsewhere.
  REQUIRE(train(config, tmp / "fresh").status == "completed");
  SafetensorsFile fresh = load_safetensors(tmp / "fresh/checkpoint.safetensors");
  CHECK_FALSE(same_values(*find(fresh.tensors, "0.weight"), *find(source.tensors, "0.weight")));
}

TEST_CASE("checkpoint: --init-from mismatching weights are refused before anything is written",
          "[apps][checkpoint]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  REQUIRE(train(tiny_config(tmp / "data", 1, 0.05), tmp / "runs/source").status == "completed");

  SECTION("another channel count") {
    YAML::Node document = YAML::Load(tiny_config_yaml(tmp / "data"));
    document["model"]["layers"][0]["conv2d"]["out_channels"] = 4;
    Config config = config_from_yaml(document, "tiny.yaml");
    try {
      train(config, tmp / "runs/wide", tmp / "runs/source/checkpoint.safetensors");
      FAIL("no error for mismatching --init-from weights");
    } catch (const Error& e) {
      std::string message = e.what();
      INFO(message);
      CHECK_THAT(message, Contains("--init-from") && Contains("0.weight"));
      CHECK_THAT(message, Contains("[8, 3, 3, 3]") && Contains("[4, 3, 3, 3]"));
    }
    CHECK_FALSE(fs::exists(tmp / "runs/wide"));
  }
  SECTION("a missing file") {
    CHECK_THROWS_WITH(
        train(tiny_config(tmp / "data", 1, 0.05), tmp / "runs/none", tmp / "nothing.safetensors"),
        Contains("nothing.safetensors"));
    CHECK_FALSE(fs::exists(tmp / "runs/none"));
  }
  SECTION("a model without normalization lacks the BN tensors") {
    YAML::Node document = YAML::Load(tiny_config_yaml(tmp / "data", "none"));
    Config config = config_from_yaml(document, "tiny.yaml");
    try {
      train(config, tmp / "runs/plain", tmp / "runs/source/checkpoint.safetensors");
      FAIL("no error for a checkpoint with extra tensors");
    } catch (const Error& e) {
      INFO(e.what());
      CHECK_THAT(e.what(), Contains("--init-from"));
    }
    CHECK_FALSE(fs::exists(tmp / "runs/plain"));
  }
  // The source run is the only one in the database.
  CHECK(fs::exists(tmp / "runs/runs.db"));
}
