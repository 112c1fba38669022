// `cnnlab export` checked by tools that are not cnnlab: the ONNX checker (Debian's
// python3-onnx, with full shape inference) validates each file, and ONNX Runtime
// (onnxruntime-node from npm, run by tests/apps/onnx_run.js) runs it on fixed pixels in
// [0, 1]; its logits must match cnnlab's own forward (the unfolded model, normalization
// applied in C++) to kTolerance. Each tool's check is skipped with a WARN naming what is
// missing only when that tool is not installed (scripts/setup.sh installs both).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "apps/config.h"
#include "apps/export_command.h"
#include "apps/model_setup.h"
#include "apps/onnx_export.h"
#include "core/autograd.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "layers/fold_batchnorm.h"
#include "layers/identity.h"
#include "layers/sequential.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// |ORT - cnnlab| <= kTolerance * max(1, max |cnnlab logit|): float32 both ways, different
// summation orders (and BN folded on one side only).
constexpr double kTolerance = 1e-4;

const std::string kVgg6 = CNNLAB_SOURCE_DIR "/configs/models/vgg6.yaml";
const std::string kResnet20 = CNNLAB_SOURCE_DIR "/configs/models/resnet20.yaml";
const std::string kAllLayers = CNNLAB_FIXTURES_DIR "/onnx_all_layers.yaml";

std::string shell_quoted(const std::string& text) { return "'" + text + "'"; }

// The Python with the onnx package (Debian python3-onnx), or "".
std::string onnx_python() {
  const char* env = std::getenv("CNNLAB_ONNX_PYTHON");
  const std::string python = env ? env : "/usr/bin/python3";
  if (run_command(shell_quoted(python) + " -c 'import onnx' 2>/dev/null").status != 0) {
    WARN("skipped the ONNX checker: " << python
                                      << " cannot import onnx (apt-get install python3-onnx)");
    return "";
  }
  return python;
}

// The node_modules folder holding onnxruntime-node, or "".
std::string onnxruntime_modules() {
  const char* env = std::getenv("CNNLAB_ONNXRUNTIME_NODE_MODULES");
  const std::string dir = env ? env : CNNLAB_BINARY_DIR "/onnx_tools/node_modules";
  if (run_command("node --version >/dev/null 2>&1").status != 0) {
    WARN("skipped ONNX Runtime: node is not installed");
    return "";
  }
  if (!fs::exists(fs::path(dir) / "onnxruntime-node")) {
    WARN("skipped ONNX Runtime: no onnxruntime-node in " << dir
                                                         << " (bash scripts/setup.sh installs it)");
    return "";
  }
  return dir;
}

// Random but not trivial normalization state: running variances in [0.5, 1.5], running
// means and norm affines (all 0 or all 1 at initialisation) moved by N(0, 0.2).
void perturb_norm_state(Module& model, uint64_t seed) {
  Generator generator(seed);
  std::vector<NamedTensor> state;
  for (const auto& [name, tensor] : model.state_dict()) {
    if (tensor.dtype() != DType::Float32) {
      state.emplace_back(name, tensor);
      continue;
    }
    std::vector<float> values = tensor.contiguous().to_vector();
    const bool is_var = name.size() > 11 && name.substr(name.size() - 11) == "running_var";
    const bool constant = std::all_of(values.begin(), values.end(), [&](float v) {
      return v == values[0] && (v == 0.0f || v == 1.0f);
    });
    Tensor noise = Tensor::empty(tensor.shape());
    if (is_var) {
      uniform_(noise, 0.5f, 1.5f, generator);
      values = noise.to_vector();
    } else if (constant) {
      normal_(noise, 0.0f, 0.2f, generator);
      std::vector<float> n = noise.to_vector();
      for (size_t i = 0; i < values.size(); ++i) values[i] += n[i];
    }
    state.emplace_back(name, Tensor::from_vector(tensor.shape(), values));
  }
  model.load_state_dict(state, true);
}

void write_floats(const std::string& path, const std::vector<float>& values) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

std::vector<float> read_floats(const std::string& path) {
  std::string bytes = read_text(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// One exported case: the config's model with perturbed weights saved, exported with
// `options`, cnnlab's logits on a fixed batch of pixels, then the two tools.
struct Case {
  std::string name, config_path;
  ExportOptions options;
};

double check_case(const Case& c, const TempDir& tmp) {
  INFO("case " << c.name);
  Config config = load_config(c.config_path);
  DataConfig data = parse_data_config(config.root["data"], "data");
  std::shared_ptr<Sequential> model = build_model_from_config(config, data);
  perturb_norm_state(*model, 11);
  ExportOptions options = c.options;
  options.weights = tmp / (c.name + ".safetensors");
  options.out = tmp / (c.name + ".onnx");
  save_safetensors(options.weights, model->state_dict());
  ExportSummary summary = export_model(config, options);
  REQUIRE(fs::exists(options.out));

  // Pixels in [0, 1], batch 3 (the file was traced with none: its batch is dynamic).
  Shape shape = model_input_shape(data);
  shape[0] = 3;
  Generator generator(5);
  std::vector<float> pixels = rand(shape, generator).to_vector();
  std::vector<float> normalized = pixels;
  const Normalization& norm = summary.normalization;
  const int64_t channels = shape[1], plane = shape[2] * shape[3];
  if (norm.enabled())
    for (size_t i = 0; i < normalized.size(); ++i) {
      const size_t k = norm.mean.size() == 1 ? 0 : (i / plane) % channels;
      normalized[i] = (normalized[i] - norm.mean[k]) / norm.std[k];
    }
  model->eval();
  std::vector<float> ours;
  {
    NoGradGuard no_grad;
    ours = model->forward(Tensor::from_vector(shape, normalized)).to_vector();
  }

  if (std::string python = onnx_python(); !python.empty()) {
    CommandResult check =
        run_command(shell_quoted(python) +
                    " -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                    "full_check=True); print(\"onnx checker: ok\")' " +
                    shell_quoted(options.out) + " 2>&1");
    INFO(check.output);
    CHECK(check.status == 0);
  }
  const std::string modules = onnxruntime_modules();
  if (modules.empty()) return 0.0;
  // The graph normalizes (or, with --no-normalize, there is no normalization to apply).
  write_floats(tmp / (c.name + ".in"), pixels);
  std::string dims;
  for (int64_t d : shape) {
    if (!dims.empty()) dims += ',';
    dims += std::to_string(d);
  }
  CommandResult run =
      run_command("NODE_PATH=" + shell_quoted(modules) + " node " +
                  shell_quoted(CNNLAB_SOURCE_DIR "/tests/apps/onnx_run.js") + " " +
                  shell_quoted(options.out) + " " + shell_quoted(tmp / (c.name + ".in")) + " " +
                  dims + " " + shell_quoted(tmp / (c.name + ".out")) + " 2>&1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  std::vector<float> theirs = read_floats(tmp / (c.name + ".out"));
  REQUIRE(theirs.size() == ours.size());
  double largest = 0.0, scale = 0.0;
  for (size_t i = 0; i < ours.size(); ++i) {
    largest = std::max(largest, std::abs(static_cast<double>(theirs[i]) - ours[i]));
    scale = std::max(scale, std::abs(static_cast<double>(ours[i])));
  }
  std::printf(
      "onnx export %s: largest |ONNX Runtime - cnnlab| logit difference %.3g (largest "
      "|logit| %.3g, %s)\n",
      c.name.c_str(), largest, scale, summary.ops.c_str());
  CHECK(largest <= kTolerance * std::max(1.0, scale));
  return largest;
}

ExportOptions with(bool fold, bool normalize, int64_t opset) {
  ExportOptions options;
  options.fold_bn = fold;
  options.normalize = normalize;
  options.opset = opset;
  return options;
}

// A layer type nobody mapped to ONNX.
class Mystery : public Module {
 public:
  Tensor forward(const Tensor& input) override { return input; }
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return "mystery"; }
};

}  // namespace

TEST_CASE("onnx export: vgg6 matches ONNX Runtime folded and unfolded", "[onnx]") {
  TempDir tmp("cnnlab_onnx");
  check_case({"vgg6", kVgg6, with(true, true, 17)}, tmp);
  check_case({"vgg6_no_fold", kVgg6, with(false, true, 17)}, tmp);
  check_case({"vgg6_no_normalize", kVgg6, with(true, false, 13)}, tmp);
}

TEST_CASE("onnx export: ResNet-20 matches ONNX Runtime", "[onnx]") {
  TempDir tmp("cnnlab_onnx");
  check_case({"resnet20", kResnet20, with(true, true, 17)}, tmp);
  check_case({"resnet20_no_fold", kResnet20, with(false, true, 15)}, tmp);
}

TEST_CASE("onnx export: every exportable layer type matches ONNX Runtime", "[onnx]") {
  TempDir tmp("cnnlab_onnx");
  check_case({"all_layers", kAllLayers, with(true, true, 17)}, tmp);
  check_case({"all_layers_no_fold", kAllLayers, with(false, true, 17)}, tmp);
  check_case({"all_layers_opset13", kAllLayers, with(true, true, 13)},
             tmp);  // LayerNorm by formula
}

TEST_CASE("onnx export: the graph's initializer names and ops and its input and output", "[onnx]") {
  Config config = load_config(kVgg6);
  DataConfig data = parse_data_config(config.root["data"], "data");
  std::shared_ptr<Sequential> model = build_model_from_config(config, data);
  model->eval();
  OnnxExportOptions options;
  options.normalization = data.normalize;
  OnnxGraph unfolded = export_onnx(*model, {1, 3, 32, 32}, options);
  auto names = [](const OnnxGraph& graph) {
    std::vector<std::string> out;
    for (const OnnxInitializer& init : graph.initializers()) out.push_back(init.name);
    return out;
  };
  using Catch::Matchers::VectorContains;
  CHECK_THAT(names(unfolded), VectorContains(std::string("0.weight")) &&
                                  VectorContains(std::string("1.running_mean")) &&
                                  VectorContains(std::string("1.running_var")) &&
                                  VectorContains(std::string("22.weight")) &&
                                  VectorContains(std::string("normalize.mean")));
  CHECK(unfolded.op_summary() ==
        "Sub x1, Div x1, Conv x6, BatchNormalization x6, Relu x6, MaxPool x3, Flatten x1, "
        "Gemm x1, Identity x1");
  REQUIRE(unfolded.inputs().size() == 1);
  CHECK(unfolded.inputs()[0].name == "input");
  CHECK(unfolded.inputs()[0].shape == Shape{-1, 3, 32, 32});
  CHECK(unfolded.outputs()[0].name == "logits");
  CHECK(unfolded.outputs()[0].shape == Shape{-1, 10});

  REQUIRE(fold_batchnorm(*model) == 6);
  OnnxGraph folded = export_onnx(*model, {1, 3, 32, 32}, OnnxExportOptions{});
  CHECK(folded.op_summary() == "Conv x6, Relu x6, MaxPool x3, Flatten x1, Gemm x1, Identity x1");
  CHECK_THAT(names(folded), VectorContains(std::string("0.bias")));  // created by the fold

  OnnxExportOptions bad;
  bad.opset = 18;
  CHECK_THROWS_WITH(export_onnx(*model, {1, 3, 32, 32}, bad),
                    Contains("opset 18 is not supported") && Contains("13 to 17"));
  model->train();
  CHECK_THROWS_WITH(export_onnx(*model, {1, 3, 32, 32}, OnnxExportOptions{}),
                    Contains("training mode"));
}

TEST_CASE("onnx export: a layer with no mapping is refused by path and type", "[onnx]") {
  Sequential model;
  model.append(std::make_shared<Identity>());
  auto inner = std::make_shared<Sequential>();
  inner->append(std::make_shared<Mystery>());
  model.append(inner);
  model.eval();
  CHECK_THROWS_WITH(export_onnx(model, {1, 3, 4, 4}, OnnxExportOptions{}),
                    Contains("layer 1.0 (mystery)") && Contains("no ONNX mapping") &&
                        Contains("exportable types: avgpool2d, batchnorm1d"));

  // A batch norm without running statistics normalizes with each batch's: refused.
  TempDir tmp("cnnlab_onnx");
  YAML::Node document = YAML::LoadFile(kVgg6);
  document["model"]["layers"][1] = YAML::Load("{batchnorm2d: {track_running_stats: false}}");
  Config config = config_from_yaml(document, "vgg6 with a batch-statistics BN");
  DataConfig data = parse_data_config(config.root["data"], "data");
  std::shared_ptr<Sequential> bn_model = build_model_from_config(config, data);
  ExportOptions options;
  options.weights = tmp / "w.safetensors";
  options.out = tmp / "m.onnx";
  save_safetensors(options.weights, bn_model->state_dict());
  options.fold_bn = false;
  CHECK_THROWS_WITH(export_model(config, options),
                    Contains("layer 1 (batchnorm2d") && Contains("track_running_stats is false"));
  CHECK_FALSE(fs::exists(options.out));
}

TEST_CASE("onnx export: the cnnlab export command", "[onnx][cli]") {
  const std::string binary = CNNLAB_BINARY_DIR "/cnnlab";
  if (!fs::exists(binary)) {
    WARN("skipped: " << binary << " is not built (build the cnnlab target first)");
    return;
  }
  TempDir tmp("cnnlab_onnx");
  Config config = load_config(kVgg6);
  DataConfig data = parse_data_config(config.root["data"], "data");
  save_safetensors(tmp / "w.safetensors", build_model_from_config(config, data)->state_dict());
  CommandResult run = run_command(shell_quoted(binary) + " export --config " + shell_quoted(kVgg6) +
                                  " --weights " + shell_quoted(tmp / "w.safetensors") + " --out " +
                                  shell_quoted(tmp / "vgg6.onnx") + " 2>&1");
  INFO(run.output);
  CHECK(run.status == 0);
  CHECK_THAT(run.output, Contains("wrote " + (tmp / "vgg6.onnx")) &&
                             Contains("input float32 [batch, 3, 32, 32]") &&
                             Contains("folded 6 batch-norm layers") &&
                             Contains("normalization in the graph: mean [0.4914"));
  CHECK(fs::file_size(tmp / "vgg6.onnx") > 1000000);  // 0.3M float32 weights

  CommandResult no_norm =
      run_command(shell_quoted(binary) + " export -c " + shell_quoted(kVgg6) + " -w " +
                  shell_quoted(tmp / "w.safetensors") + " -o " + shell_quoted(tmp / "raw.onnx") +
                  " --no-normalize --no-fold-bn --opset 13 2>&1");
  INFO(no_norm.output);
  CHECK(no_norm.status == 0);
  CHECK_THAT(no_norm.output,
             Contains("none (--no-normalize)") && Contains("BatchNormalization x6"));

  CommandResult bad = run_command(shell_quoted(binary) + " export -c " + shell_quoted(kVgg6) +
                                  " -w " + shell_quoted(tmp / "w.safetensors") + " -o " +
                                  shell_quoted(tmp / "x.onnx") + " --opset 19 2>&1");
  CHECK(bad.status != 0);
  CHECK_THAT(bad.output, Contains("--opset"));
  CommandResult missing = run_command(shell_quoted(binary) + " export -c " + shell_quoted(kVgg6) +
                                      " -w " + shell_quoted(tmp / "nope.safetensors") + " -o " +
                                      shell_quoted(tmp / "x.onnx") + " 2>&1");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.output, Contains("nope.safetensors"));
}

TEST_CASE("onnx export: normalize auto puts the training set's statistics in the graph", "[onnx]") {
  TempDir tmp("cnnlab_onnx");
  write_tiny_cifar(tmp / "data", 40, 10);
  Config config = load_config(kVgg6, {"data.root=" + (tmp / "data"), "data.normalize=auto"});
  DataConfig data = parse_data_config(config.root["data"], "data");
  ExportOptions options;
  options.weights = tmp / "w.safetensors";
  options.out = tmp / "auto.onnx";
  save_safetensors(options.weights, build_model_from_config(config, data)->state_dict());
  ExportSummary summary = export_model(config, options);
  const Normalization expected = load_datasets(data).normalization;
  REQUIRE(summary.normalization.enabled());
  CHECK(summary.normalization.mean == expected.mean);
  CHECK(summary.normalization.std == expected.std);
  CHECK(expected.mean != cifar10_normalization().mean);

  options.normalize = false;
  CHECK_FALSE(export_model(config, options).normalization.enabled());
}
