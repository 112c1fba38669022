// train.bn_mode: update is today's training bit for bit; freeze leaves every BN tensor
// (weight, bias, running statistics, count) bit-identical over the steps while the rest
// trains; reestimate's running statistics equal the batch statistics of the training set
// computed here directly from the run's final weights; a mode without BN is an error.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "apps/bn_mode.h"
#include "apps/config.h"
#include "apps/model_setup.h"
#include "apps/trainer.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "layers/batchnorm.h"
#include "tests/apps/tiny_cifar.h"
#include "tests/same_values.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

const Tensor& tensor(const SafetensorsFile& file, const std::string& name) {
  for (const auto& [n, t] : file.tensors)
    if (n == name) return t;
  throw std::runtime_error("no tensor " + name);
}

Config tiny(const std::string& data, const std::string& extra, double lr = 0.05, int64_t epochs = 2,
            const std::string& norm = "batch") {
  return config_from_yaml(YAML::Load(tiny_config_yaml(data, norm, epochs, lr, extra)), "tiny.yaml");
}

TrainResult train(const Config& config, const std::string& out) {
  TrainOptions options;
  options.out_dir = out;
  options.quiet = true;
  return train_run(config, options);
}

SafetensorsFile checkpoint(const std::string& run) {
  return load_safetensors((fs::path(run) / "checkpoint.safetensors").string());
}

const std::vector<std::string> kBnTensors = {"1.weight", "1.bias", "1.running_mean",
                                             "1.running_var", "1.num_batches_tracked"};

}  // namespace

TEST_CASE("bn_mode: update is the default, bit for bit", "[apps][bn_mode]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  REQUIRE(train(tiny(tmp / "data", ""), tmp / "default").status == "completed");
  REQUIRE(train(tiny(tmp / "data", "bn_mode: update"), tmp / "update").status == "completed");
  const SafetensorsFile a = checkpoint(tmp / "default"), b = checkpoint(tmp / "update");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].first);
    CHECK(a.tensors[i].first == b.tensors[i].first);
    CHECK(same_values(a.tensors[i].second, b.tensors[i].second));
  }
  // And that is BN as usual: its weight trained, its statistics moved, one count per step.
  CHECK(tensor(a, "1.num_batches_tracked").to_int64_vector() == std::vector<int64_t>{8});
  CHECK_FALSE(same_values(tensor(a, "1.weight"), Tensor::ones({8})));
  CHECK_FALSE(same_values(tensor(a, "1.running_mean"), Tensor::zeros({8})));
}

TEST_CASE("bn_mode: freeze leaves every BN tensor bit-identical while the rest trains",
          "[apps][bn_mode]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  REQUIRE(train(tiny(tmp / "data", ""), tmp / "source").status == "completed");
  const SafetensorsFile source = checkpoint(tmp / "source");
  // From trained statistics, with momentum and weight decay that would move anything trained.
  YAML::Node document = tiny(tmp / "data", "bn_mode: freeze").root;
  document["train"]["init_from"] = tmp / "source/checkpoint.safetensors";
  document["optim"]["weight_decay"] = 0.01;
  for (int64_t steps : {1, 8}) {
    INFO("after " << steps << " steps");
    YAML::Node run = YAML::Clone(document);
    run["train"]["max_steps"] = steps;
    const std::string out = tmp / ("frozen" + std::to_string(steps));
    REQUIRE(train(config_from_yaml(run, "tiny.yaml"), out).status == "completed");
    const SafetensorsFile frozen = checkpoint(out);
    for (const std::string& name : kBnTensors) {
      INFO(name);
      CHECK(same_values(tensor(frozen, name), tensor(source, name)));
    }
    CHECK_FALSE(same_values(tensor(frozen, "0.weight"), tensor(source, "0.weight")));
    CHECK_FALSE(same_values(tensor(frozen, "5.weight"), tensor(source, "5.weight")));
  }
}

TEST_CASE("bn_mode: reestimate's statistics are the training set's, computed directly",
          "[apps][bn_mode]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 120, 64);  // batches of 32: 32, 32, 32 and a last one of 24
  REQUIRE(train(tiny(tmp / "data", "", 0.05, 1), tmp / "source").status == "completed");
  const SafetensorsFile source = checkpoint(tmp / "source");
  Config config = tiny(tmp / "data", "bn_mode: reestimate");
  config.root["train"]["init_from"] = tmp / "source/checkpoint.safetensors";
  config = config_from_yaml(config.root, "tiny.yaml");
  REQUIRE(train(config, tmp / "adapted").status == "completed");
  const SafetensorsFile adapted = checkpoint(tmp / "adapted");
  // Weight and bias frozen; the convolution trained.
  CHECK(same_values(tensor(adapted, "1.weight"), tensor(source, "1.weight")));
  CHECK(same_values(tensor(adapted, "1.bias"), tensor(source, "1.bias")));
  CHECK_FALSE(same_values(tensor(adapted, "0.weight"), tensor(source, "0.weight")));

  // The direct computation: the final convolution over the training set in order, without
  // augmentation, per batch of 32: each channel's mean and unbiased variance, averaged.
  const DataConfig data = parse_data_config(config.root["data"], "data");
  auto model = build_model_from_config(config, data);
  model->load_state_dict(adapted.tensors);
  const Datasets datasets = load_datasets(data);
  DataLoader loader(datasets.train, loader_options(data, datasets.normalization, false), 0);
  NoGradGuard no_grad;
  model->eval();
  Module& conv = *model->children()[0].second;
  std::vector<double> mean(8, 0.0), var(8, 0.0);
  int64_t batches = 0;
  loader.begin_epoch(0);
  while (auto batch = loader.next()) {
    const Tensor out = conv.forward(batch->images).contiguous();
    const int64_t n = out.size(0), l = out.size(2) * out.size(3);
    const float* y = out.data();
    for (int64_t c = 0; c < 8; ++c) {
      double sum = 0, square = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < l; ++p) sum += y[(i * 8 + c) * l + p];
      const double m = sum / static_cast<double>(n * l);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < l; ++p) square += std::pow(y[(i * 8 + c) * l + p] - m, 2);
      mean[c] += m;
      var[c] += square / static_cast<double>(n * l - 1);
    }
    ++batches;
  }
  REQUIRE(batches == 4);
  CHECK(tensor(adapted, "1.num_batches_tracked").to_int64_vector() == std::vector<int64_t>{4});
  const std::vector<float> running_mean = tensor(adapted, "1.running_mean").to_vector();
  const std::vector<float> running_var = tensor(adapted, "1.running_var").to_vector();
  for (int64_t c = 0; c < 8; ++c) {
    INFO("channel " << c);
    CHECK(running_mean[c] == Approx(mean[c] / batches).epsilon(1e-4).margin(1e-6));
    CHECK(running_var[c] == Approx(var[c] / batches).epsilon(1e-4));
  }
  // Not the pretrained statistics, and the momentum of the layer is back to 0.1.
  CHECK_FALSE(same_values(tensor(adapted, "1.running_mean"), tensor(source, "1.running_mean")));
}

TEST_CASE("bn_mode: a frozen mode needs batch norm, and the value is checked", "[apps][bn_mode]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  for (const char* norm : {"none", "group"}) {
    INFO(norm);
    CHECK_THROWS_WITH(train(tiny(tmp / "data", "bn_mode: freeze", 0.05, 1, norm), tmp / "none"),
                      Contains("train.bn_mode: 'freeze'") && Contains("has none"));
  }
  CHECK_FALSE(fs::exists(tmp / "none"));
  CHECK_THROWS_WITH(tiny(tmp / "data", "bn_mode: thaw"),
                    Contains("train.bn_mode: expected update, freeze or reestimate"));
  // Batch norm without running statistics has nothing to freeze to.
  YAML::Node document = YAML::Load(tiny_config_yaml(tmp / "data"));
  document["model"]["layers"][1] = YAML::Load("{batchnorm2d: {track_running_stats: false}}");
  document["train"]["bn_mode"] = "reestimate";
  CHECK_THROWS_WITH(train(config_from_yaml(document, "tiny.yaml"), tmp / "untracked"),
                    Contains("train.bn_mode") && Contains("track_running_stats: false"));
}

TEST_CASE("bn_mode: reestimate_bn_statistics restores modes and momenta", "[apps][bn_mode]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  const Config config = tiny(tmp / "data", "");
  const DataConfig data = parse_data_config(config.root["data"], "data");
  auto model = build_model_from_config(config, data);
  apply_bn_mode(*model, "freeze");
  auto* bn = dynamic_cast<BatchNorm*>(model->children()[1].second.get());
  REQUIRE(bn);
  CHECK(bn->frozen());
  CHECK_FALSE(bn->weight().requires_grad());
  // The optimizer is built over the convolution and the linear layer alone.
  std::vector<std::string> optimized;
  const auto optimizer = make_model_optimizer(config.root["optim"], *model);
  for (const ParamGroup& group : optimizer->groups())
    optimized.insert(optimized.end(), group.names.begin(), group.names.end());
  CHECK(optimized == std::vector<std::string>{"0.weight", "5.weight", "5.bias"});
  const Datasets datasets = load_datasets(data);
  DataLoader loader(datasets.train, loader_options(data, datasets.normalization, false), 0);
  model->train();
  CHECK(reestimate_bn_statistics(*model, loader) == 1);
  CHECK(bn->frozen());
  CHECK(bn->momentum() == std::optional<float>(0.1f));
  CHECK(model->training());
  CHECK(bn->num_batches_tracked().to_int64_vector() == std::vector<int64_t>{2});
}
