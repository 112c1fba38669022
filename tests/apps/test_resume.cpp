// Resume equals the uninterrupted run: the same per-step losses (metrics.csv strings and the
// exact doubles in runs.db), the same epoch results and bit-identical final weights and
// optimizer state, whether the first part stopped at an epoch boundary or mid-epoch by a
// signal (the real Ctrl-C path, triggered deterministically from inside the model).
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/config.h"
#include "apps/run_files.h"
#include "apps/run_store.h"
#include "apps/trainer.h"
#include "core/safetensors.h"
#include "layers/registry.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// A test-only identity layer that raises SIGINT during the N-th training forward pass, as if
// the user pressed Ctrl-C then: the trainer finishes that step, checkpoints and stops.
int64_t g_interrupt_at = 0;  // 0 = never
int64_t g_training_forwards = 0;

class InterruptAt : public Module {
 public:
  Tensor forward(const Tensor& input) override {
    if (training() && ++g_training_forwards == g_interrupt_at) std::raise(SIGINT);
    return input;
  }
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return "test_interrupt"; }
};

CNNLAB_REGISTER_LAYER(LayerInfo{
    "test_interrupt",
    "test only: raises SIGINT in a chosen training forward pass",
    {},
    [](const LayerArgs&, BuildContext&) -> ModulePtr { return std::make_shared<InterruptAt>(); },
    false});

// The tiny run with augmentation (random choices keyed by seed, epoch and position must
// line up on resume) and the interrupt layer last (so it shifts no parameter names).
std::string resume_config_yaml(const std::string& data_root, int64_t epochs) {
  YAML::Node document = YAML::Load(tiny_config_yaml(data_root, "batch", epochs, 0.05));
  document["data"]["augment"] = YAML::Load("[random_crop, hflip]");
  document["model"]["layers"].push_back(YAML::Load("{test_interrupt: {}}"));
  return to_yaml_string(document);
}

// The same run with dropout in the classifier: every step's mask comes from the layer's
// generator, whose state state.safetensors must carry (as "rng.<path>.dropout").
std::string dropout_config_yaml(const std::string& data_root, int64_t epochs) {
  YAML::Node document = YAML::Load(resume_config_yaml(data_root, epochs));
  YAML::Node layers = document["model"]["layers"];
  YAML::Node with_dropout;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i]["linear"]) with_dropout.push_back(YAML::Load("{dropout: {p: 0.5}}"));
    with_dropout.push_back(layers[i]);
  }
  document["model"]["layers"] = with_dropout;
  return to_yaml_string(document);
}

TrainResult run(const Config& config, const std::string& dir, bool resume) {
  TrainOptions options;
  (resume ? options.resume_dir : options.out_dir) = dir;
  options.quiet = true;
  g_training_forwards = 0;
  return train_run(config, options);
}

bool same_tensors(const std::string& a_path, const std::string& b_path) {
  SafetensorsFile a = load_safetensors(a_path), b = load_safetensors(b_path);
  REQUIRE(a.tensors.size() == b.tensors.size());
  bool same = true;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [name, x] = a.tensors[i];
    const auto& [other_name, y] = b.tensors[i];
    INFO(name);
    CHECK(name == other_name);
    CHECK(x.shape() == y.shape());
    if (x.dtype() == DType::Int64) {
      same = same && x.to_int64_vector() == y.to_int64_vector();
    } else {
      std::vector<float> u = x.to_vector(), v = y.to_vector();
      same = same && u.size() == v.size() &&
             std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
    }
  }
  return same;
}

// Per-step losses from the run database: every row of `dir`'s runs, later rows (the resumed
// part) replacing earlier ones for the same step.
std::map<int64_t, double> logged_losses(const std::string& db, const std::string& dir) {
  RunStore store(db);
  std::map<int64_t, double> losses;
  for (const RunRow& run : store.runs())
    if (run.run_dir == dir)
      for (const StepRow& step : store.steps(run.id)) losses[step.step] = step.loss;
  return losses;
}

// Everything that must match between the uninterrupted run A and the resumed run B. With
// `extra_evaluation`, B's first part ended with an evaluation that A never made (a max_steps
// stop evaluates the weights it stops with), so B's best checkpoint may differ by design.
void check_same_run(const TempDir& tmp, const std::string& a, const std::string& b,
                    bool extra_evaluation = false) {
  std::vector<std::string> a_metrics = read_lines(a + "/metrics.csv");
  std::vector<std::string> b_metrics = read_lines(b + "/metrics.csv");
  REQUIRE(a_metrics.size() == 1 + 3 * 4);
  CHECK(b_metrics == a_metrics);  // epoch, step, lr, loss and accuracy of every step

  std::map<int64_t, double> a_losses = logged_losses(tmp / "runs/runs.db", a);
  std::map<int64_t, double> b_losses = logged_losses(tmp / "runs/runs.db", b);
  REQUIRE(a_losses.size() == 12);
  CHECK(b_losses == a_losses);  // exact doubles

  std::vector<EpochRecord> a_epochs = read_epochs_csv(a + "/epochs.csv");
  std::vector<EpochRecord> b_epochs = read_epochs_csv(b + "/epochs.csv");
  REQUIRE(b_epochs.size() == a_epochs.size());
  for (size_t e = 0; e < a_epochs.size(); ++e) {
    INFO("epoch " << e + 1);
    CHECK(b_epochs[e].epoch == a_epochs[e].epoch);
    CHECK(b_epochs[e].test_loss == a_epochs[e].test_loss);
    CHECK(b_epochs[e].test_acc == a_epochs[e].test_acc);
    CHECK(b_epochs[e].train_acc == a_epochs[e].train_acc);
    // The epoch's loss sum crosses the checkpoint as metadata text (see docs/apps-tests.md).
    CHECK(b_epochs[e].train_loss == a_epochs[e].train_loss);
  }
  CHECK(same_tensors(a + "/checkpoint.safetensors", b + "/checkpoint.safetensors"));
  CHECK(same_tensors(a + "/state.safetensors", b + "/state.safetensors"));  // optimizer too
  if (!extra_evaluation) CHECK(same_tensors(a + "/best.safetensors", b + "/best.safetensors"));
  nlohmann::json a_summary = read_json_file(a + "/summary.json");
  nlohmann::json b_summary = read_json_file(b + "/summary.json");
  for (const char* key : {"status", "final_test_acc", "best_test_acc", "steps", "epochs_completed",
                          "final_train_acc", "final_test_loss"}) {
    INFO(key);
    if (extra_evaluation && std::string(key) == "best_test_acc") continue;
    CHECK(b_summary[key] == a_summary[key]);
  }
}

}  // namespace

TEST_CASE("resume: after a finished epoch equals the uninterrupted run", "[apps][resume]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  Config three = config_from_yaml(YAML::Load(resume_config_yaml(tmp / "data", 3)), "tiny.yaml");
  REQUIRE(run(three, tmp / "runs/a", false).status == "completed");

  // B trains one epoch and completes; its config.yaml is then given the 3-epoch length (what
  // a user does to extend a finished run) and the run resumed from its state.safetensors.
  Config one = config_from_yaml(YAML::Load(resume_config_yaml(tmp / "data", 1)), "tiny.yaml");
  TrainResult first = run(one, tmp / "runs/b", false);
  REQUIRE(first.status == "completed");
  CHECK(read_lines(tmp / "runs/b/metrics.csv").size() == 1 + 4);
  write_text(tmp / "runs/b/config.yaml", resume_config_yaml(tmp / "data", 3));
  Config resumed_config = load_config(tmp / "runs/b/config.yaml");
  TrainResult resumed = run(resumed_config, tmp / "runs/b", true);
  CHECK(resumed.status == "completed");
  CHECK(resumed.epochs.size() == 3);  // the first epoch comes from epochs.csv
  CHECK(read_text(tmp / "runs/b/train.log").find("resuming") != std::string::npos);
  check_same_run(tmp, tmp / "runs/a", tmp / "runs/b");
}

TEST_CASE("resume: after Ctrl-C mid-epoch equals the uninterrupted run", "[apps][resume]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  Config config = config_from_yaml(YAML::Load(resume_config_yaml(tmp / "data", 3)), "tiny.yaml");
  g_interrupt_at = 0;
  REQUIRE(run(config, tmp / "runs/a", false).status == "completed");

  g_interrupt_at = 6;  // the second step of epoch 2 (4 steps per epoch)
  TrainResult stopped = run(config, tmp / "runs/b", false);
  g_interrupt_at = 0;
  CHECK(stopped.status == "interrupted");
  CHECK(read_lines(tmp / "runs/b/metrics.csv").size() == 1 + 6);
  SafetensorsFile state = load_safetensors(tmp / "runs/b/state.safetensors");
  CHECK(state.metadata["epoch"] == "1");  // 0-based: inside the second epoch
  CHECK(state.metadata["batch"] == "2");
  CHECK(state.metadata["step"] == "6");
  CHECK(read_json_file(tmp / "runs/b/summary.json")["status"] == "interrupted");
  CHECK_THAT(read_text(tmp / "runs/b/train.log"), Contains("--resume"));

  TrainResult resumed = run(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true);
  CHECK(resumed.status == "completed");
  check_same_run(tmp, tmp / "runs/a", tmp / "runs/b");
}

TEST_CASE("resume: a bf16 run after Ctrl-C mid-epoch equals the uninterrupted one",
          "[apps][resume][bf16]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  YAML::Node document = YAML::Load(resume_config_yaml(tmp / "data", 3));
  document["train"]["precision"] = "bf16";
  const Config config = config_from_yaml(document, "tiny.yaml");
  g_interrupt_at = 0;
  REQUIRE(run(config, tmp / "runs/a", false).status == "completed");
  g_interrupt_at = 6;
  CHECK(run(config, tmp / "runs/b", false).status == "interrupted");
  g_interrupt_at = 0;
  TrainResult resumed = run(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true);
  CHECK(resumed.status == "completed");
  CHECK_THAT(read_text(tmp / "runs/b/train.log"), Contains("precision bf16"));
  check_same_run(tmp, tmp / "runs/a", tmp / "runs/b");
}

TEST_CASE("resume: with dropout, after Ctrl-C mid-epoch equals the uninterrupted run",
          "[apps][resume][dropout]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  Config config = config_from_yaml(YAML::Load(dropout_config_yaml(tmp / "data", 3)), "tiny.yaml");
  g_interrupt_at = 0;
  REQUIRE(run(config, tmp / "runs/a", false).status == "completed");

  g_interrupt_at = 6;  // inside epoch 2, so the generator has drawn 5 masks already
  TrainResult stopped = run(config, tmp / "runs/b", false);
  g_interrupt_at = 0;
  REQUIRE(stopped.status == "interrupted");
  SafetensorsFile state = load_safetensors(tmp / "runs/b/state.safetensors");
  bool has_generator = false;
  for (const auto& [name, t] : state.tensors)
    if (name == "rng.5.dropout") {  // conv, norm, relu, pool, flatten, dropout
      has_generator = true;
      CHECK(t.dtype() == DType::Int64);
      CHECK(t.dim() == 1);
      CHECK(t.numel() >= 312);  // an mt19937_64's state words (libstdc++ adds its position)
    }
  CHECK(has_generator);

  TrainResult resumed = run(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true);
  CHECK(resumed.status == "completed");
  check_same_run(tmp, tmp / "runs/a", tmp / "runs/b");

  // Without the generator's state (a state.safetensors from before it was saved) the run
  // still resumes, with a warning that its masks, hence its losses, will differ.
  std::vector<NamedTensor> without;
  for (auto& entry : load_safetensors(tmp / "runs/b/state.safetensors").tensors)
    if (entry.first.rfind("rng.", 0) != 0) without.push_back(entry);
  SafetensorsFile full = load_safetensors(tmp / "runs/b/state.safetensors");
  save_safetensors(tmp / "runs/b/state.safetensors", without, full.metadata);
  write_text(tmp / "runs/b/config.yaml", dropout_config_yaml(tmp / "data", 4));
  CHECK(run(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true).status == "completed");
  CHECK_THAT(read_text(tmp / "runs/b/train.log"),
             Contains("rng.5.dropout") && Contains("fresh random masks"));
}

TEST_CASE("resume: a generator state for a layer the model lacks is an error naming it",
          "[apps][resume][dropout]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  Config config = config_from_yaml(YAML::Load(resume_config_yaml(tmp / "data", 1)), "tiny.yaml");
  g_interrupt_at = 0;
  REQUIRE(run(config, tmp / "runs/b", false).status == "completed");
  // A dropout generator's state where this model (no dropout) has a relu.
  SafetensorsFile state = load_safetensors(tmp / "runs/b/state.safetensors");
  state.tensors.emplace_back("rng.2.dropout",
                             Tensor::from_int64({312}, std::vector<int64_t>(312, 1)));
  save_safetensors(tmp / "runs/b/state.safetensors", state.tensors, state.metadata);
  write_text(tmp / "runs/b/config.yaml", resume_config_yaml(tmp / "data", 2));
  CHECK_THROWS_WITH(run(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true),
                    Contains("rng.2.dropout") && Contains("does not have"));
}

// train.max_steps is a stop, not a pause: after it the run is complete. Lifting it in
// config.yaml and resuming must still continue from the exact step it stopped at.
// (A stop inside an epoch keeps that epoch's position, so the resume runs its remaining
// batches, here steps 6-7.)
TEST_CASE("resume: after train.max_steps mid-epoch equals the uninterrupted run",
          "[apps][resume]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 128, 64);
  Config config = config_from_yaml(YAML::Load(resume_config_yaml(tmp / "data", 3)), "tiny.yaml");
  g_interrupt_at = 0;
  REQUIRE(run(config, tmp / "runs/a", false).status == "completed");

  YAML::Node limited = YAML::Clone(config.root);
  limited["train"]["max_steps"] = 6;
  TrainResult stopped = run(config_from_yaml(limited, "tiny.yaml"), tmp / "runs/b", false);
  CHECK(stopped.status == "completed");
  CHECK(read_lines(tmp / "runs/b/metrics.csv").size() == 1 + 6);
  SafetensorsFile state = load_safetensors(tmp / "runs/b/state.safetensors");
  CHECK(state.metadata["step"] == "6");
  CHECK(state.metadata["epoch"] == "1");  // still inside the second epoch
  CHECK(state.metadata["batch"] == "2");

  write_text(tmp / "runs/b/config.yaml", to_yaml_string(config.root));  // max_steps lifted
  TrainResult resumed = run(load_config(tmp / "runs/b/config.yaml"), tmp / "runs/b", true);
  CHECK(resumed.status == "completed");
  check_same_run(tmp, tmp / "runs/a", tmp / "runs/b", /*extra_evaluation=*/true);
}

TEST_CASE("resume: a folder without state.safetensors says how to start again", "[apps][resume]") {
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  Config config = config_from_yaml(YAML::Load(tiny_config_yaml(tmp / "data")), "tiny.yaml");
  fs::create_directories(tmp / "runs/empty");
  TrainOptions options;
  options.resume_dir = tmp / "runs/empty";
  options.quiet = true;
  CHECK_THROWS_WITH(train_run(config, options), Contains("--resume") &&
                                                    Contains("state.safetensors") &&
                                                    Contains("runs/empty"));
}
