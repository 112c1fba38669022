// The resumable run state (see run_state.h).
#include "apps/run_state.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/safetensors.h"

namespace fs = std::filesystem;

namespace cnn {

void EpochSums::add(const TrainStepResult& step, double seconds, double loop) {
  images += step.images;
  correct += step.correct;
  loss_sum += step.loss * step.images;
  steps += 1;
  step_seconds += seconds;
  loop_seconds += loop;
}

namespace {

std::vector<NamedTensor> with_prefix(const std::vector<NamedTensor>& tensors,
                                     const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : tensors) out.emplace_back(prefix + name, t);
  return out;
}

std::vector<NamedTensor> strip_prefix(const std::vector<NamedTensor>& tensors,
                                      const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

void collect_dropouts(Module& module, const std::string& path, DropoutLayers& out) {
  if (auto* layer = dynamic_cast<Dropout*>(&module)) out.emplace_back(path, layer);
  for (const auto& [name, child] : module.children())
    collect_dropouts(*child, path.empty() ? name : path + "." + name, out);
}

// Each generator is saved as "rng.<module path>.dropout", an int64 tensor of the numbers of
// the mt19937_64's text form (312 state words, then libstdc++'s position in them), unsigned
// 64-bit values stored bit for bit; it lies beside the "model." and "optimizer." tensors, so
// no name can collide.
std::string dropout_state_name(const std::string& path) { return "rng." + path + ".dropout"; }

Tensor generator_state_tensor(const Generator& generator) {
  std::istringstream in(generator.state());
  std::vector<int64_t> words;
  for (uint64_t word; in >> word;) words.push_back(static_cast<int64_t>(word));
  return Tensor::from_int64({static_cast<int64_t>(words.size())}, words);
}

void restore_generator(Generator& generator, const Tensor& words, const std::string& where) {
  CNN_CHECK(words.dtype() == DType::Int64 && words.dim() == 1, where,
            ": expected a 1-D int64 tensor of generator state words, found ",
            shape_str(words.shape()));
  std::ostringstream text;
  for (int64_t word : words.to_int64_vector()) text << static_cast<uint64_t>(word) << ' ';
  try {
    generator.set_state(text.str());
  } catch (const Error& e) {
    CNN_FAIL(where, ": ", e.what());
  }
}

// A state written before generators were saved has none: the run resumes, with a warning
// that its dropout masks will differ from an uninterrupted run's.
void restore_dropout_generators(const DropoutLayers& dropouts,
                                const std::vector<NamedTensor>& state,
                                const std::string& state_path) {
  std::map<std::string, const Tensor*> saved;
  for (const auto& [name, t] : state)
    if (name.rfind("rng.", 0) == 0) saved[name] = &t;
  for (const auto& [path, layer] : dropouts) {
    const std::string name = dropout_state_name(path);
    auto it = saved.find(name);
    if (it == saved.end()) {
      spdlog::warn(
          "{} has no '{}': dropout layer '{}' continues with fresh random masks, so the "
          "resumed run will not match an uninterrupted one exactly",
          state_path, name, path);
      continue;
    }
    restore_generator(layer->generator(), *it->second, state_path + ": '" + name + "'");
    saved.erase(it);
  }
  CNN_CHECK(saved.empty(), state_path, ": '", saved.empty() ? "" : saved.begin()->first,
            "' is the state of a dropout layer this model does not have (was config.yaml's "
            "model changed?)");
}

// Doubles cross the checkpoint as text: print them exactly (std::to_string keeps 6 decimals).
std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

}  // namespace

DropoutLayers find_dropout_layers(Module& model) {
  DropoutLayers dropouts;
  collect_dropouts(model, "", dropouts);
  return dropouts;
}

void save_run_state(const std::string& run_dir, const Module& model, const Optimizer& optimizer,
                    const DropoutLayers& dropouts, const RunPosition& position) {
  const fs::path dir(run_dir);
  std::vector<NamedTensor> weights = model.state_dict();
  save_safetensors((dir / kCheckpointFile).string(), weights, {{"format", "pt"}});
  std::vector<NamedTensor> state = with_prefix(weights, "model.");
  for (auto& entry : with_prefix(optimizer.state_tensors(), "optimizer.")) state.push_back(entry);
  for (const auto& [path, layer] : dropouts)
    state.emplace_back(dropout_state_name(path), generator_state_tensor(layer->generator()));
  const EpochSums& sums = position.sums;
  std::map<std::string, std::string> meta{{"epoch", std::to_string(position.epoch)},
                                          {"batch", std::to_string(position.batch)},
                                          {"step", std::to_string(position.step)},
                                          {"best_test_acc", exact(position.best_test_acc)},
                                          {"run_id", std::to_string(position.run_id)},
                                          {"first_loss", exact(position.first_loss)},
                                          {"collapsed_step", std::to_string(position.collapsed_step)},
                                          {"collapse_reason", position.collapse_reason},
                                          {"world_size", std::to_string(position.world_size)},
                                          {"epoch_images", std::to_string(sums.images)},
                                          {"epoch_correct", std::to_string(sums.correct)},
                                          {"epoch_steps", std::to_string(sums.steps)},
                                          {"epoch_loss_sum", exact(sums.loss_sum)},
                                          {"epoch_step_seconds", exact(sums.step_seconds)},
                                          {"epoch_loop_seconds", exact(sums.loop_seconds)}};
  save_safetensors((dir / kStateFile).string(), state, meta);
}

RunPosition load_run_state(const std::string& run_dir, Module& model, Optimizer& optimizer,
                           const DropoutLayers& dropouts) {
  const fs::path state_path = fs::path(run_dir) / kStateFile;
  CNN_CHECK(fs::exists(state_path), "--resume '", run_dir, "': no ", kStateFile,
            " there (the run never reached its first checkpoint); start it again instead");
  SafetensorsFile state = load_safetensors(state_path.string());
  model.load_state_dict(strip_prefix(state.tensors, "model."), true);
  optimizer.load_state_tensors(strip_prefix(state.tensors, "optimizer."));
  restore_dropout_generators(dropouts, state.tensors, state_path.string());
  auto meta = [&](const char* key) {
    auto it = state.metadata.find(key);
    CNN_CHECK(it != state.metadata.end(), state_path.string(), ": metadata '", key,
              "' is missing");
    return it->second;
  };
  RunPosition position;
  position.epoch = std::stoll(meta("epoch"));
  position.batch = std::stoll(meta("batch"));
  position.step = std::stoll(meta("step"));
  position.best_test_acc = std::stod(meta("best_test_acc"));
  // Written by later versions than the rest: absent from older states.
  if (state.metadata.count("run_id")) position.run_id = std::stoll(meta("run_id"));
  if (state.metadata.count("first_loss")) position.first_loss = std::stod(meta("first_loss"));
  if (state.metadata.count("collapsed_step")) {
    position.collapsed_step = std::stoll(meta("collapsed_step"));
    position.collapse_reason = meta("collapse_reason");
  }
  if (state.metadata.count("world_size")) position.world_size = std::stoll(meta("world_size"));
  position.sums.images = std::stoll(meta("epoch_images"));
  position.sums.correct = std::stoll(meta("epoch_correct"));
  position.sums.steps = std::stoll(meta("epoch_steps"));
  position.sums.loss_sum = std::stod(meta("epoch_loss_sum"));
  position.sums.step_seconds = std::stod(meta("epoch_step_seconds"));
  position.sums.loop_seconds = std::stod(meta("epoch_loop_seconds"));
  return position;
}

std::string load_weights_from(Module& model, const std::string& path, const std::string& where) {
  std::error_code ec;
  const std::string file =
      fs::is_directory(path, ec) ? (fs::path(path) / kCheckpointFile).string() : path;
  CNN_CHECK(fs::is_regular_file(file, ec), where, ": '", file,
            "' does not exist (expected a .safetensors file cnnlab wrote, or a run folder with ",
            kCheckpointFile, ")");
  SafetensorsFile weights;
  try {
    weights = load_safetensors(file);
  } catch (const Error& e) {
    CNN_FAIL(where, " '", file, "': ", e.what());
  }
  // A state file is told apart by its position metadata; its weights carry "model.".
  const bool state = weights.metadata.count("step") && weights.metadata.count("epoch");
  try {
    model.load_state_dict(state ? strip_prefix(weights.tensors, "model.") : weights.tensors, true);
  } catch (const Error& e) {
    CNN_FAIL(where, " '", file, "': ", e.what());
  }
  return file;
}

}  // namespace cnn
