// The custom-layer example: se_block (built from core ops) and swish_beta (a CustomOp with its
// own backward) are registered from outside the library, gradient-checked, named in a config
// that builds and trains, and loadable into the cnnlab program with --plugin.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "apps/config.h"
#include "apps/model_setup.h"
#include "apps/run_files.h"
#include "apps/trainer.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "se_block.h"
#include "swish_beta.h"
#include "layers/activations.h"
#include "layers/fusion.h"
#include "layers/registry.h"
#include "layers/sequential.h"
#include "tests/apps/tiny_cifar.h"
#include "tests/gradcheck.h"

using namespace cnn;
using namespace cnn::example;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kConfig = CNNLAB_EXAMPLE_DIR "/se_vgg.yaml";

const Tensor* find(const std::vector<NamedTensor>& tensors, const std::string& name) {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

// The tiny model with one plugin layer inserted at `index` (a YAML mapping text).
std::string config_with(const std::string& layer, size_t index) {
  YAML::Node document = YAML::Load(tiny_config_yaml("data"));
  YAML::Node layers(YAML::NodeType::Sequence);
  for (size_t i = 0; i < document["model"]["layers"].size(); ++i) {
    if (i == index) layers.push_back(YAML::Load(layer));
    layers.push_back(document["model"]["layers"][i]);
  }
  document["model"]["layers"] = layers;
  return to_yaml_string(document);
}

std::string build_error(const std::string& yaml) {
  try {
    Config config = config_from_yaml(YAML::Load(yaml), "test.yaml");
    build_model_from_config(config, parse_data_config(config.root["data"], "data"));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("examples: both layers are registered with their keys", "[examples]") {
  const LayerInfo* se = find_layer("se_block");
  REQUIRE(se != nullptr);
  REQUIRE(se->keys.size() == 2);
  CHECK(se->keys[0].name == "reduction");
  CHECK(se->keys[0].default_value == "4");
  const LayerInfo* swish = find_layer("swish_beta");
  REQUIRE(swish != nullptr);
  CHECK(swish->keys[0].name == "beta");
}

TEST_CASE("examples: se_vgg.yaml builds with both plugin layers", "[examples]") {
  Config config = load_config(kConfig);
  DataConfig data = parse_data_config(config.root["data"], "data");
  auto model = build_model_from_config(config, data);
  CHECK(model->output_shape({2, 3, 32, 32}) == Shape{2, 10});
  CHECK(model->at(2)->type() == "swish_beta");
  CHECK(model->at(3)->type() == "se_block");
  CHECK(model->at(13)->type() == "se_block");
  CHECK(model->at(3)->describe() == "se_block(channels=32, hidden=8, bias=true)");
  CHECK(model->at(13)->describe() == "se_block(channels=128, hidden=16, bias=true)");

  std::vector<NamedTensor> state = model->state_dict();
  REQUIRE(find(state, "3.fc1.weight") != nullptr);
  CHECK(find(state, "3.fc1.weight")->shape() == Shape{8, 32});
  CHECK(find(state, "3.fc1.bias")->shape() == Shape{8});
  CHECK(find(state, "3.fc2.weight")->shape() == Shape{32, 8});
  CHECK(find(state, "8.fc2.bias")->shape() == Shape{64});
  REQUIRE(find(state, "2.beta") != nullptr);
  CHECK(find(state, "2.beta")->to_vector() == std::vector<float>{1.0f});
  bool beta_trained = false;
  for (const auto& [name, t] : model->named_parameters()) beta_trained |= name == "7.beta";
  CHECK(beta_trained);

  Generator generator(1);
  model->eval();
  NoGradGuard no_grad;
  Tensor out = model->forward(randn({2, 3, 32, 32}, generator));
  CHECK(out.shape() == Shape{2, 10});
  for (float v : out.to_vector()) CHECK(std::isfinite(v));
}

TEST_CASE("examples: the fusion pass lets se_block take the relu after it", "[examples][fusion]") {
  // se_block -> relu, fused by fuse_for_training through SEBlock::absorbs_relu(): the same
  // output and (to rounding: its backward sums the gate gradient in its own order) the
  // same gradients as the two layers one after the other; the state-dict names stay.
  auto run = [](bool fused) {
    Generator generator(3);
    auto block = std::make_shared<SEBlock>(6, 2, true, generator);
    Sequential model;
    model.append(block);
    model.append(std::make_shared<Activation>(Activation::Kind::ReLU));
    const size_t names = model.state_dict().size();
    if (fused) REQUIRE(fuse_for_training(model) == 1);
    REQUIRE(model.steps().size() == (fused ? 1u : 2u));
    REQUIRE(model.state_dict().size() == names);
    Tensor x = randn({3, 6, 4, 5}, generator).set_requires_grad();
    Tensor y = model.forward(x);
    y.backward(randn(y.shape(), generator));
    return std::vector<Tensor>{y, x.grad(), block->fc1().weight().grad(),
                               block->fc2().weight().grad(), block->fc2().bias().grad()};
  };
  const auto fused = run(true), separate = run(false);
  REQUIRE(fused[0].to_vector() == separate[0].to_vector());
  const char* names[] = {"output", "grad input", "grad fc1.weight", "grad fc2.weight",
                         "grad fc2.bias"};
  for (size_t i = 1; i < fused.size(); ++i) {
    INFO(names[i]);
    const auto a = fused[i].to_vector(), b = separate[i].to_vector();
    REQUIRE(a.size() == b.size());
    for (size_t k = 0; k < a.size(); ++k) REQUIRE(a[k] == Approx(b[k]).epsilon(1e-4).margin(1e-6));
  }
  // The fused op's own backward against finite differences. The gates are positive, so
  // the ReLU's kink is where an input element is 0: the kink guard skips those.
  Generator generator(4);
  SEBlock block(4, 2, true, generator);
  Tensor x = randn({2, 4, 3, 3}, generator).set_requires_grad();
  GradCheckOptions options;
  options.use_kink = true;
  options.kink_range = 0.02f;
  check_gradients(
      "se_block+relu", [&](const std::vector<Tensor>& in) { return block.forward_relu(in[0]); },
      {x, block.fc1().weight(), block.fc2().weight(), block.fc2().bias()}, options);
}

TEST_CASE("examples: se_block matches the formula and its gradients check", "[examples]") {
  Generator generator(7);
  SEBlock block(8, 4, true, generator);
  REQUIRE(block.hidden() == 2);
  Tensor x = randn({2, 8, 3, 3}, generator);
  Tensor y = block.forward(x);
  REQUIRE(y.shape() == x.shape());

  // A naive reference: the squeeze, two matrix-vector products, relu, sigmoid, rescale.
  std::vector<float> W1 = block.fc1().weight().to_vector(), b1 = block.fc1().bias().to_vector();
  std::vector<float> W2 = block.fc2().weight().to_vector(), b2 = block.fc2().bias().to_vector();
  for (int64_t n = 0; n < 2; ++n) {
    double squeezed[8], hidden[2];
    for (int64_t c = 0; c < 8; ++c) {
      squeezed[c] = 0;
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) squeezed[c] += x.at({n, c, i, j}) / 9.0;
    }
    for (int64_t h = 0; h < 2; ++h) {
      hidden[h] = b1[h];
      for (int64_t c = 0; c < 8; ++c) hidden[h] += W1[h * 8 + c] * squeezed[c];
      hidden[h] = std::max(0.0, hidden[h]);
    }
    for (int64_t c = 0; c < 8; ++c) {
      double z = b2[c] + W2[c * 2] * hidden[0] + W2[c * 2 + 1] * hidden[1];
      double gate = 1.0 / (1.0 + std::exp(-z));
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j)
          CHECK(y.at({n, c, i, j}) == Approx(x.at({n, c, i, j}) * gate).margin(1e-5));
    }
  }

  x.set_requires_grad();
  check_gradients(
      "se_block", [&](const std::vector<Tensor>& in) { return block.forward(in[0]); },
      {x, block.fc1().weight(), block.fc1().bias(), block.fc2().weight(), block.fc2().bias()});

  CHECK_THROWS_WITH(
      block.forward(randn({2, 4, 3, 3}, generator)),
      Contains("se_block") && Contains("8 input channels") && Contains("[2, 4, 3, 3]"));
}

TEST_CASE("examples: swish_beta matches the formula and its hand-written backward checks",
          "[examples]") {
  Generator generator(3);
  Tensor x = randn({3, 4, 5}, generator);
  SwishBeta unit(1.0f, true);
  // beta = 1 is SiLU.
  std::vector<float> ours = unit.forward(x).to_vector(), silu_values = silu(x).to_vector();
  for (size_t i = 0; i < ours.size(); ++i) CHECK(ours[i] == Approx(silu_values[i]).margin(1e-6));

  for (float beta : {1.0f, 0.3f, 2.5f}) {
    INFO("beta " << beta);
    SwishBeta layer(beta, true);
    Tensor input = randn({2, 3, 4, 4}, generator).set_requires_grad();
    std::vector<float> y = layer.forward(input).to_vector(), v = input.to_vector();
    for (size_t i = 0; i < v.size(); ++i)
      CHECK(y[i] == Approx(v[i] / (1.0 + std::exp(-beta * v[i]))).margin(1e-6));
    check_gradients("swish_beta",
                    [&](const std::vector<Tensor>& in) { return layer.forward(in[0]); },
                    {input, layer.beta()});
  }

  SwishBeta fixed(1.5f, false);
  CHECK(fixed.named_parameters().empty());
  REQUIRE(fixed.named_buffers().size() == 1);
  CHECK(fixed.named_buffers()[0].first == "beta");
  Tensor input = randn({2, 3}, generator).set_requires_grad();
  check_gradients("swish_beta (fixed beta)",
                  [&](const std::vector<Tensor>& in) { return fixed.forward(in[0]); }, {input});
  CHECK_THROWS_WITH(swish_beta(input, Tensor::full({2}, 1.0f)),
                    Contains("beta must have shape [1]"));
}

TEST_CASE("examples: config mistakes with the plugin layers name the layer", "[examples]") {
  // se_block after flatten (index 5 of the tiny model: its input is [1, 512]).
  CHECK_THAT(build_error(config_with("{se_block: {}}", 5)),
             Contains("model.layers[5]") && Contains("se_block") && Contains("4-d"));
  CHECK_THAT(build_error(config_with("{se_block: {reduction: 0}}", 1)),
             Contains("model.layers[1].se_block.reduction") && Contains("at least 1"));
  CHECK_THAT(build_error(config_with("{se_block: {ratio: 4}}", 1)),
             Contains("model.layers[1].se_block.ratio") && Contains("unknown key") &&
                 Contains("reduction"));
  CHECK_THAT(build_error(config_with("{swish_beta: {beta: fast}}", 2)),
             Contains("model.layers[2].swish_beta.beta"));
  CHECK(build_error(config_with("{se_block: {reduction: 16}}", 1)).empty());  // hidden 1
}

TEST_CASE("examples: se_vgg trains on tiny data and its loss falls", "[examples]") {
  TempDir tmp("cnnlab_example");
  write_tiny_cifar(tmp / "data", 128, 32);
  Config config = load_config(
      kConfig, {"data.root=" + (tmp / "data"), "data.augment=[]", "data.batch_size=32",
                "train.epochs=2", "train.threads=1", "schedule={name: constant}", "optim.lr=0.02"});
  TrainOptions options;
  options.out_dir = tmp / "runs/se_vgg";
  options.quiet = true;
  TrainResult result = train_run(config, options);
  REQUIRE(result.status == "completed");

  std::vector<std::string> lines = read_lines(tmp / "runs/se_vgg/metrics.csv");
  REQUIRE(lines.size() == 1 + 2 * 4);
  double first = std::stod(split_csv(lines[1])[3]), last = 0;
  for (size_t i = lines.size() - 3; i < lines.size(); ++i)
    last += std::stod(split_csv(lines[i])[3]) / 3;
  INFO("first step loss " << first << ", mean of the last three " << last);
  CHECK(last < 0.8 * first);
  CHECK(result.epochs.back().train_loss < result.epochs.front().train_loss);

  // The learnable betas moved, and are saved under their layer's name.
  SafetensorsFile weights = load_safetensors(tmp / "runs/se_vgg/checkpoint.safetensors");
  REQUIRE(find(weights.tensors, "2.beta") != nullptr);
  CHECK(find(weights.tensors, "2.beta")->to_vector()[0] != 1.0f);
  REQUIRE(find(weights.tensors, "13.fc1.weight") != nullptr);
}

TEST_CASE("examples: the cnnlab program loads the plugin with --plugin", "[examples]") {
  const std::string binary = CNNLAB_BINARY_DIR "/cnnlab";
  if (!fs::exists(binary)) {
    WARN("cnnlab is not built at " << binary << "; build the `cnnlab` target first");
    return;
  }
  const std::string plugin = CNNLAB_EXAMPLE_PLUGIN;
  REQUIRE(fs::exists(plugin));
  TempDir tmp("cnnlab_plugin");

  CommandResult layers = run_command("'" + binary + "' --plugin '" + plugin + "' layers 2>&1");
  CHECK(layers.status == 0);
  CHECK_THAT(layers.output, Contains("\nse_block") && Contains("\nswish_beta") &&
                                Contains("reduction") && Contains("\nconv2d"));
  CommandResult from_env =
      run_command("CNNLAB_PLUGINS='" + plugin + "' '" + binary + "' layers 2>&1");
  CHECK(from_env.status == 0);
  CHECK_THAT(from_env.output, Contains("\nse_block"));

  // Without the plugin the config names a layer type nobody registered.
  CommandResult without = run_command("'" + binary + "' train --config '" + kConfig + "' --out '" +
                                      (tmp / "runs/none") + "' 2>&1");
  CHECK(without.status == 1);
  CHECK_THAT(without.output,
             Contains("unknown layer type 'swish_beta'") && Contains("model.layers[2]"));

  // With it, a short run of the example config.
  write_tiny_cifar(tmp / "data", 64, 32);
  CommandResult train =
      run_command("'" + binary + "' --plugin '" + plugin + "' train --config '" + kConfig +
                  "' --set data.root='" + (tmp / "data") +
                  "' --set 'data.augment=[]' --set data.batch_size=32 --set train.epochs=1 " +
                  "--set train.threads=1 --out '" + (tmp / "runs/se_vgg") + "' 2>&1");
  INFO(train.output);
  CHECK(train.status == 0);
  CHECK_THAT(train.output, Contains("se_vgg: completed"));
  CHECK(fs::exists(tmp / "runs/se_vgg/checkpoint.safetensors"));
}
