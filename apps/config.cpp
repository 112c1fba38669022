// Config loading, dotted overrides and validation of the top level and train section.
#include "apps/config.h"

#include <fstream>
#include <sstream>

#include "apps/dist_settings.h"
#include "core/error.h"
#include "layers/builder.h"

namespace cnn {

const std::vector<KeySpec>& train_keys() {
  static const TrainSettings defaults;
  static const std::vector<KeySpec> keys{
      {"epochs", default_text(defaults.epochs), "passes over the training set"},
      {"log_every", default_text(defaults.log_every),
       "steps between progress lines when stdout is not a terminal"},
      {"layer_stats_every", default_text(defaults.layer_stats_every),
       "record each layer's output mean/std and each parameter's gradient norm every N steps "
       "(0 = off)"},
      {"nan_check", default_text(defaults.nan_check),
       "loss: stop when the loss is NaN/inf; every_step: also check every gradient and BN "
       "running statistic each step"},
      {"clip_grad_norm", default_text(defaults.clip_grad_norm),
       "clip gradients to this global L2 norm (0 = off)"},
      {"label_smoothing", default_text(defaults.label_smoothing),
       "label smoothing of the cross-entropy loss"},
      {"threads", default_text(defaults.threads), "threads for kernels and BLAS (0 = all cores)"},
      {"precision", defaults.precision,
       "fp32 | bf16: bf16 runs the convolutions' and linear layers' GEMMs on bf16 operands with "
       "fp32 sums; everything else stays fp32 (docs/precision.md)"},
      {"checkpoint_every", default_text(defaults.checkpoint_every),
       "also checkpoint every N steps (0 = at the end of each epoch)"},
      {"max_steps", default_text(defaults.max_steps),
       "stop after N optimizer steps in total (0 = no limit)"},
      {"accuracy_threshold", default_text(defaults.accuracy_threshold),
       "test accuracy whose first epoch reports call convergence"},
      {"divergence_factor", default_text(defaults.divergence_factor),
       "stop the run as diverged when a step's loss exceeds this multiple of the first step's "
       "(0 = only NaN/inf)"},
      {"init_from", default_text(defaults.init_from),
       "start from these weights and BN statistics (a checkpoint/best/state .safetensors cnnlab "
       "wrote, or its run folder), not the optimizer state or step; in an experiment "
       "variant:NAME is an earlier variant's final checkpoint of the same seed"},
      {"bn_mode", defaults.bn_mode,
       "update | freeze | reestimate: BN layers as usual; frozen (running statistics in "
       "training, weight and bias not trained); or frozen with the running statistics "
       "recomputed on the training set before every evaluation (apps/bn_mode.h)"},
  };
  return keys;
}

namespace {
std::vector<std::string> split_key(const std::string& key, const std::string& where) {
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) {
    CNN_CHECK(!part.empty(), where, ": empty component in key '", key, "'");
    parts.push_back(part);
  }
  CNN_CHECK(!parts.empty(), where, ": empty key");
  return parts;
}
}  // namespace

YAML::Node get_dotted(const YAML::Node& root, const std::string& key) {
  YAML::Node node = YAML::Clone(root);
  for (const std::string& part : split_key(key, key)) {
    if (!node.IsMap() || !node[part].IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(node[part]);
  }
  return node;
}

void set_dotted(YAML::Node& root, const std::string& key, const YAML::Node& value,
                bool must_exist, const std::string& where) {
  std::vector<std::string> parts = split_key(key, where);
  // Walk with explicit copies: yaml-cpp nodes are handles into the same document.
  YAML::Node node = root;
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (i ? "." : "") + parts[i];
    YAML::Node child = node[parts[i]];
    if (!child.IsDefined() || child.IsNull()) {
      CNN_CHECK(!must_exist, where, ": the key '", key, "' does not exist in the config ('",
                walked, "' is missing)");
      node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child = node[parts[i]];
    }
    CNN_CHECK(child.IsMap(), where, ": cannot set '", key, "': '", walked,
              "' is not a mapping in the config");
    node.reset(child);
  }
  CNN_CHECK(!must_exist || node[parts.back()].IsDefined(), where, ": the key '", key,
            "' does not exist in the config");
  node[parts.back()] = value;
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  size_t eq = assignment.find('=');
  CNN_CHECK(eq != std::string::npos && eq > 0, "--set '", assignment,
            "': expected key=value with a dotted key, e.g. --set optim.lr=0.1");
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    CNN_FAIL("--set '", assignment, "': the value is not valid YAML (", e.msg, ")");
  }
  set_dotted(root, key, parsed, false, "--set '" + assignment + "'");
}

Config config_from_yaml(const YAML::Node& document, const std::string& source) {
  CNN_CHECK(document.IsMap(), source, ": expected a YAML mapping with name, data, model, optim, "
                              "schedule and train sections");
  const Config defaults;
  const ConfigReader top(
      document, "",
      {{"name", default_text(defaults.name), "run name"},
       {"seed", default_text(defaults.seed), "seed of initialisation, shuffling and augmentation"},
       {"data", "required", "the data section (data/config.h)"},
       {"model", "required", "norm and layers"},
       {"optim", "required", "the optimizer (optim/factory.h)"},
       {"schedule", "constant", "the learning-rate schedule"},
       {"train", "{}", "the train section (train_keys())"},
       {"dist", "{}", "data-parallel settings under mpirun (apps/distributed.h)"}});
  top.check_known_keys("top-level");
  for (const char* required : {"data", "model", "optim"})
    CNN_CHECK(document[required].IsDefined() && document[required].IsMap(), source,
              ": the section '", required, "' is missing or not a mapping");
  CNN_CHECK(document["model"]["layers"].IsDefined(), "model.layers: required (a list of layers)");
  ConfigReader(document["model"], "model", model_keys()).check_known_keys("model");

  Config config;
  config.root = document;
  config.source_path = source;
  config.name = top.get_string("name");
  config.seed = top.get_uint("seed");

  YAML::Node train = document["train"];
  if (train.IsDefined() && !train.IsNull()) CNN_CHECK(train.IsMap(), "train: expected a mapping");
  const ConfigReader reader(train, "train", train_keys());
  reader.check_known_keys("train");
  TrainSettings& t = config.train;
  t.epochs = reader.get_int("epochs");
  t.log_every = reader.get_int("log_every");
  t.layer_stats_every = reader.get_int("layer_stats_every");
  t.threads = reader.get_int("threads");
  t.precision = reader.get_choice("precision", {"fp32", "bf16"});
  t.checkpoint_every = reader.get_int("checkpoint_every");
  t.max_steps = reader.get_int("max_steps");
  t.clip_grad_norm = reader.get_double("clip_grad_norm");
  t.label_smoothing = reader.get_double("label_smoothing");
  t.accuracy_threshold = reader.get_double("accuracy_threshold");
  t.nan_check = reader.get_choice("nan_check", {"loss", "every_step"});
  t.divergence_factor = reader.get_double("divergence_factor");
  t.init_from = reader.get_string("init_from", "a file path or variant:NAME");
  t.bn_mode = reader.get_choice("bn_mode", {"update", "freeze", "reestimate"});
  reader.check("divergence_factor", t.divergence_factor == 0 || t.divergence_factor > 1,
               "expected 0 (off) or a factor above 1, found ", t.divergence_factor);
  reader.check("epochs", t.epochs >= 1, "expected at least 1, found ", t.epochs);
  reader.check("log_every", t.log_every >= 1, "expected at least 1, found ", t.log_every);
  reader.check("layer_stats_every", t.layer_stats_every >= 0, "expected >= 0, found ",
               t.layer_stats_every);
  reader.check("label_smoothing", t.label_smoothing >= 0 && t.label_smoothing < 1,
               "expected a value in [0, 1), found ", t.label_smoothing);
  dist_settings(config);  // read under mpirun only, but a bad key is an error everywhere
  return config;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream file(path);
  CNN_CHECK(file.good(), "config '", path, "': cannot open the file");
  YAML::Node document;
  try {
    document = YAML::Load(file);
  } catch (const YAML::Exception& e) {
    CNN_FAIL("config '", path, "': invalid YAML at line ", e.mark.line + 1, ", column ",
             e.mark.column + 1, ": ", e.msg);
  }
  CNN_CHECK(document.IsMap(), "config '", path, "': expected a YAML mapping at the top level");
  for (const std::string& assignment : overrides) apply_override(document, assignment);
  return config_from_yaml(document, path);
}

std::string to_yaml_string(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

}  // namespace cnn
