// `cnnlab eval`: test loss and accuracy, per-class accuracy and the confusion matrix of saved
// weights, as JSON; with BN's batch statistics (leaving the running ones untouched) and with
// BN folded into the convolutions (same predictions).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/config.h"
#include "apps/eval_command.h"
#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/trainer.h"
#include "core/autograd.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// Redirects this process's stdout (file descriptor 1) into a file while alive.
class CaptureStdout {
 public:
  explicit CaptureStdout(const std::string& path) : path_(path) {
    std::fflush(stdout);
    saved_ = ::dup(1);
    FILE* file = std::fopen(path.c_str(), "w");
    ::dup2(::fileno(file), 1);
    std::fclose(file);
  }
  std::string finish() {
    std::fflush(stdout);
    if (saved_ >= 0) {
      ::dup2(saved_, 1);
      ::close(saved_);
      saved_ = -1;
    }
    return read_text(path_);
  }
  ~CaptureStdout() { finish(); }

 private:
  std::string path_;
  int saved_ = -1;
};

struct TrainedRun {
  TempDir tmp{"cnnlab_eval"};
  Config config;
  TrainResult result;
  TrainedRun() {
    write_tiny_cifar(tmp / "data", 128, 64);
    write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 2));
    config = load_config(tmp / "tiny.yaml");
    TrainOptions options;
    options.out_dir = tmp / "runs/run";
    options.quiet = true;
    result = train_run(config, options);
  }
  std::string weights() const { return tmp / "runs/run/checkpoint.safetensors"; }
};

nlohmann::json eval_json(const TrainedRun& run, bool use_batch_stats, bool fold_bn,
                         const std::string& name) {
  CaptureStdout capture(run.tmp / (name + ".out"));
  int status = run_eval_command(run.config, run.weights(), true, use_batch_stats, 0, fold_bn);
  std::string output = capture.finish();
  REQUIRE(status == 0);
  INFO(output);
  // From the first brace (the case below checks nothing precedes it).
  size_t brace = output.find('{');
  REQUIRE(brace != std::string::npos);
  return nlohmann::json::parse(output.substr(brace));
}

}  // namespace

TEST_CASE("eval: --json gives loss and accuracy and per-class accuracy and the confusion matrix",
          "[apps][eval]") {
  TrainedRun run;
  REQUIRE(run.result.status == "completed");
  nlohmann::json json = eval_json(run, false, false, "plain");
  CHECK(json["test_acc"].get<double>() == Approx(run.result.final_test_acc));
  CHECK(json["test_loss"].get<double>() ==
        Approx(run.result.epochs.back().test_loss).epsilon(1e-5));
  CHECK(json["images"].get<int>() == 64);
  REQUIRE(json["per_class_accuracy"].is_object());
  CHECK(json["per_class_accuracy"].size() == 10);
  CHECK(json["per_class_accuracy"].contains("airplane"));
  REQUIRE(json["confusion_matrix"].is_array());
  REQUIRE(json["confusion_matrix"].size() == 10);
  int64_t total = 0, diagonal = 0;
  for (size_t k = 0; k < 10; ++k) {
    REQUIRE(json["confusion_matrix"][k].size() == 10);
    for (size_t p = 0; p < 10; ++p) total += json["confusion_matrix"][k][p].get<int64_t>();
    diagonal += json["confusion_matrix"][k][k].get<int64_t>();
  }
  CHECK(total == 64);
  CHECK(static_cast<double>(diagonal) / total == Approx(json["test_acc"].get<double>()));

  SECTION("--fold-bn: the same predictions") {
    nlohmann::json folded = eval_json(run, false, true, "folded");
    CHECK(folded["test_acc"].get<double>() == json["test_acc"].get<double>());
    CHECK(folded["test_loss"].get<double>() ==
          Approx(json["test_loss"].get<double>()).epsilon(1e-4));
  }
  SECTION("--use-batch-stats runs") {
    nlohmann::json batch_stats = eval_json(run, true, false, "batch_stats");
    CHECK(batch_stats["images"].get<int>() == 64);
    CHECK(batch_stats["test_acc"].get<double>() > 0.1);
  }
}

TEST_CASE("eval: batch statistics leave the running statistics as they were", "[apps][eval]") {
  TrainedRun run;
  DataConfig data = parse_data_config(run.config.root["data"], "data");
  auto model = build_model_from_config(run.config, data);
  model->load_state_dict(load_safetensors(run.weights()).tensors, true);
  std::vector<std::vector<float>> before;
  for (auto& [name, buffer] : model->named_buffers())
    if (buffer.dtype() == DType::Float32) before.push_back(buffer.to_vector());
  REQUIRE(before.size() == 2);  // running_mean, running_var

  Datasets datasets = load_datasets(data);
  DataLoader loader(datasets.test, loader_options(data, datasets.normalization, false), 0);
  EvalResult with_batch_stats = evaluate(*model, loader, 10, true);
  CHECK(with_batch_stats.images == 64);
  size_t i = 0;
  for (auto& [name, buffer] : model->named_buffers())
    if (buffer.dtype() == DType::Float32) CHECK(buffer.to_vector() == before[i++]);
  CHECK(model->training());  // the mode it was in before
  EvalResult with_running = evaluate(*model, loader, 10, false);
  CHECK(with_running.accuracy == run.result.final_test_acc);
}

// The batch-statistics path at eval batch = the whole test set is BN with the statistics of
// that set: the same predictions and loss as the running path once the running statistics
// are replaced by the mean and (biased) variance recomputed by hand from the conv's output.
TEST_CASE("eval: batch statistics over the whole set equal recomputed running statistics",
          "[apps][eval]") {
  TrainedRun run;
  DataConfig data = parse_data_config(run.config.root["data"], "data");
  data.batch_size = 64;  // the whole tiny test set in one batch
  auto model = build_model_from_config(run.config, data);
  model->load_state_dict(load_safetensors(run.weights()).tensors, true);
  Datasets datasets = load_datasets(data);
  DataLoader loader(datasets.test, loader_options(data, datasets.normalization, false), 0);
  const EvalResult batch_stats = evaluate(*model, loader, 10, true);
  REQUIRE(batch_stats.images == 64);

  // The tiny net is conv2d, norm (batch), relu, ...: BN sees the conv's output.
  Tensor conv_out;
  {
    NoGradGuard no_grad;
    model->eval();
    loader.begin_epoch(0);
    auto batch = loader.next();
    REQUIRE(batch);
    REQUIRE(batch->images.size(0) == 64);
    conv_out = model->at(0)->forward(batch->images);  // [N, C, H, W]
    REQUIRE_FALSE(loader.next());
  }
  const int64_t n = conv_out.size(0), c = conv_out.size(1),
                hw = conv_out.size(2) * conv_out.size(3);
  std::vector<float> mean(c), var(c);
  const float* x = conv_out.data();
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, square = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t p = 0; p < hw; ++p) {
        const double v = x[(i * c + ch) * hw + p];
        sum += v;
        square += v * v;
      }
    const double m = sum / static_cast<double>(n * hw);
    mean[ch] = static_cast<float>(m);
    var[ch] = static_cast<float>(square / static_cast<double>(n * hw) - m * m);  // biased, as BN
  }
  int replaced = 0;
  for (auto& [name, buffer] : model->named_buffers()) {
    if (name != "1.running_mean" && name != "1.running_var") continue;
    buffer.copy_(Tensor::from_vector({c}, name == "1.running_mean" ? mean : var));
    ++replaced;
  }
  REQUIRE(replaced == 2);
  const EvalResult recomputed = evaluate(*model, loader, 10, false);
  CHECK(recomputed.confusion == batch_stats.confusion);
  CHECK(recomputed.accuracy == batch_stats.accuracy);
  CHECK(recomputed.loss == Approx(batch_stats.loss).epsilon(1e-4));
  // The running path (today's) is the trained running statistics: the run's own accuracy.
  model->load_state_dict(load_safetensors(run.weights()).tensors, true);
  CHECK(evaluate(*model, loader, 10, false).accuracy == run.result.final_test_acc);
}

TEST_CASE("eval: mismatching weights name the tensor", "[apps][eval]") {
  TrainedRun run;
  YAML::Node document = YAML::Clone(run.config.root);
  document["model"]["layers"][5]["linear"]["out_features"] = 5;
  Config other = config_from_yaml(document, "other.yaml");
  CHECK_THROWS_WITH(run_eval_command(other, run.weights(), true, false, 0, false),
                    Contains("--weights") && Contains("5.weight"));
}

static std::string eval_command_line(const std::string& binary, const TrainedRun& run,
                                     const std::string& flags) {
  return "'" + binary + "' eval --config '" + (run.tmp / "tiny.yaml") + "' --weights '" +
         run.weights() + "' " + flags;
}

TEST_CASE("eval: the cnnlab binary with --json and --use-batch-stats", "[apps][eval][cli]") {
  const std::string binary = CNNLAB_BINARY_DIR "/cnnlab";
  if (!fs::exists(binary)) {
    WARN("cnnlab is not built at " << binary << "; build the `cnnlab` target first");
    return;
  }
  TrainedRun run;
  CommandResult result = run_command(eval_command_line(binary, run, "--json 2>/dev/null"));
  REQUIRE(result.status == 0);
  INFO(result.output);
  size_t brace = result.output.find('{');  // see the next case for what may come before it
  REQUIRE(brace != std::string::npos);
  nlohmann::json json = nlohmann::json::parse(result.output.substr(brace));
  CHECK(json["test_acc"].get<double>() == Approx(run.result.final_test_acc));
  CHECK(json["per_class_accuracy"].size() == 10);
  CHECK(json["confusion_matrix"].size() == 10);

  CommandResult batch_stats = run_command(eval_command_line(binary, run, "--use-batch-stats 2>&1"));
  CHECK(batch_stats.status == 0);
  CHECK_THAT(batch_stats.output, Contains("batch statistics") && Contains("confusion matrix"));
}

// Log lines (e.g. the loader's "data: cifar10 from ...") go to stderr, so that
// `cnnlab eval --json | jq` reads pure JSON.
TEST_CASE("eval: cnnlab eval --json prints only the JSON object on stdout",
          "[apps][eval][cli]") {
  const std::string binary = CNNLAB_BINARY_DIR "/cnnlab";
  if (!fs::exists(binary)) {
    WARN("cnnlab is not built at " << binary << "; build the `cnnlab` target first");
    return;
  }
  TrainedRun run;
  CommandResult result = run_command(eval_command_line(binary, run, "--json 2>/dev/null"));
  REQUIRE(result.status == 0);
  INFO(result.output);
  REQUIRE_FALSE(result.output.empty());
  CHECK(result.output.front() == '{');
  CHECK_NOTHROW(nlohmann::json::parse(result.output).at("test_acc").get<double>());
}
