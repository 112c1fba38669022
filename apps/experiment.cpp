// Experiment files: base config + shared settings + listed or grid variants.
#include "apps/experiment.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "apps/bn_mode.h"
#include "apps/model_setup.h"
#include "apps/run_state.h"
#include "core/config_reader.h"
#include "core/error.h"
#include "data/config.h"
#include "optim/factory.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

std::string scalar_text(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

// "optim.lr" -> "lr", for readable grid variant names.
std::string last_component(const std::string& key) {
  size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::string safe_name(std::string name) {
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '='))
      c = '_';
  return name;
}

// Applies a `set:` mapping of dotted keys.
void apply_set(YAML::Node& root, const YAML::Node& set, const std::string& path, bool must_exist,
               std::vector<std::pair<std::string, std::string>>* record) {
  if (!set.IsDefined() || set.IsNull()) return;
  CNN_CHECK(set.IsMap(), path, ": expected a mapping of dotted keys to values, e.g. {optim.lr: 0.1}");
  for (auto it = set.begin(); it != set.end(); ++it) {
    std::string key = it->first.as<std::string>();
    set_dotted(root, key, YAML::Clone(it->second), must_exist, path + "." + key);
    if (record) record->emplace_back(key, scalar_text(it->second));
  }
}

}  // namespace

void validate_runnable(const Config& config, const std::string& where) {
  try {
    DataConfig data = parse_data_config(config.root["data"], "data");
    auto model = build_model_from_config(config, data);
    apply_bn_mode(*model, config.train.bn_mode);
    auto optimizer = make_model_optimizer(config.root["optim"], *model, "optim");
    make_schedule(config.root["schedule"], optimizer->base_lr(), 100, config.train.epochs, "schedule");
  } catch (const Error& e) {
    CNN_FAIL(where, ": ", e.what());
  }
}

namespace {

// The experiment's base config, its path resolved relative to the experiment file.
YAML::Node load_base(const std::string& base_path, const std::string& path) {
  try {
    return YAML::LoadFile(base_path);
  } catch (const YAML::BadFile&) {
    CNN_FAIL(path, ".base: cannot open '", base_path, "' (resolved relative to the experiment file)");
  } catch (const YAML::Exception& e) {
    CNN_FAIL(base_path, ": invalid YAML at line ", e.mark.line + 1, ": ", e.msg);
  }
}

// One variant before it is built: its name, the dotted keys it sets, whether they must exist.
struct VariantSpec {
  std::string name;
  YAML::Node set;
  bool must_exist;
};

// `variants:` as written: a list of {name, set}, names unique.
std::vector<VariantSpec> listed_variants(const YAML::Node& list, const std::string& path) {
  CNN_CHECK(list.IsSequence() && list.size() > 0, path, ".variants: expected a non-empty list");
  std::vector<VariantSpec> specs;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = path + ".variants[" + std::to_string(i) + "]";
    CNN_CHECK(list[i].IsMap(), where, ": expected a mapping with name and set");
    ConfigReader(list[i], where,
                 {{"name", "required", "variant name"},
                  {"set", "{}", "dotted keys set in the base config"}})
        .check_known_keys("variant");
    CNN_CHECK(list[i]["name"].IsDefined(), where, ": 'name' is required");
    std::string name = list[i]["name"].as<std::string>();
    CNN_CHECK(names.insert(name).second, where, ": the name '", name, "' is used twice");
    specs.push_back({name, list[i]["set"], false});
  }
  return specs;
}

// `grid:` as the Cartesian product of its value lists, first axis slowest; every key must
// exist in the base config (a grid over a typo fails).
std::vector<VariantSpec> grid_variants(const YAML::Node& grid, const YAML::Node& base,
                                       const std::string& path, const std::string& base_path) {
  CNN_CHECK(grid.IsMap() && grid.size() > 0, path, ".grid: expected a mapping of dotted keys to lists");
  std::vector<std::pair<std::string, YAML::Node>> axes;
  for (auto it = grid.begin(); it != grid.end(); ++it) {
    std::string key = it->first.as<std::string>();
    CNN_CHECK(it->second.IsSequence() && it->second.size() > 0, path, ".grid.", key,
              ": expected a non-empty list of values");
    CNN_CHECK(get_dotted(base, key).IsDefined(), path, ".grid.", key, ": the key '", key,
              "' does not exist in the base config '", base_path, "'");
    axes.emplace_back(key, it->second);
  }
  std::vector<VariantSpec> specs;
  std::vector<size_t> index(axes.size(), 0);
  while (true) {
    YAML::Node set(YAML::NodeType::Map);
    std::string name;
    for (size_t a = 0; a < axes.size(); ++a) {
      YAML::Node value = axes[a].second[index[a]];
      set[axes[a].first] = value;
      if (a) name += '_';
      name += last_component(axes[a].first) + "=" + scalar_text(value);
    }
    specs.push_back({safe_name(name), set, true});
    size_t a = axes.size();
    while (a > 0 && ++index[a - 1] == axes[a - 1].second.size()) index[--a] = 0;
    if (a == 0) break;
  }
  return specs;
}

// `seeds:` a non-empty list of distinct non-negative integers; empty when absent.
std::vector<int64_t> experiment_seeds(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return {};
  CNN_CHECK(node.IsSequence() && node.size() > 0, path,
            ".seeds: expected a non-empty list of seeds, e.g. [0, 1, 2]");
  std::vector<int64_t> seeds;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = path + ".seeds[" + std::to_string(i) + "]";
    const int64_t seed = convert<int64_t>(node[i], where, "a non-negative integer");
    CNN_CHECK(seed >= 0, where, ": expected a non-negative integer, found ", seed);
    CNN_CHECK(std::find(seeds.begin(), seeds.end(), seed) == seeds.end(), where, ": the seed ",
              seed, " is listed twice");
    seeds.push_back(seed);
  }
  return seeds;
}

// The base with the variant's keys and the command line's overrides, checked as a config.
Variant build_variant(const VariantSpec& spec, const YAML::Node& base, const std::string& path,
                      const std::string& base_path, const std::vector<std::string>& overrides) {
  YAML::Node root = YAML::Clone(base);
  Variant variant;
  variant.name = spec.name;
  std::string where = path + " variant '" + spec.name + "'";
  apply_set(root, spec.set, where + " set", spec.must_exist, &variant.settings);
  for (const std::string& assignment : overrides) apply_override(root, assignment);
  if (!root["name"].IsDefined() || root["name"].IsNull()) root["name"] = spec.name;
  try {
    variant.config = config_from_yaml(root, base_path);
  } catch (const Error& e) {
    CNN_FAIL(where, ": ", e.what());
  }
  validate_runnable(variant.config, where);
  return variant;
}

// train.init_from: variant:NAME names a variant listed before this one (`earlier`, in file
// order); with seeds, its run of the same seed. Sets the variant's init_from_variant.
void link_init_from(Variant& variant, const std::vector<std::string>& earlier,
                    const std::string& seed_suffix, const std::string& path) {
  const std::string& value = variant.config.train.init_from;
  const std::string prefix = "variant:";
  if (value.rfind(prefix, 0) != 0) return;
  const std::string name = value.substr(prefix.size());
  if (std::find(earlier.begin(), earlier.end(), name) == earlier.end()) {
    std::string listed;
    for (const std::string& e : earlier) listed += (listed.empty() ? "" : ", ") + e;
    CNN_FAIL(path, " variant '", variant.name, "': train.init_from: '", value,
             "' names no variant listed before this one (variants run in file order; before it: ",
             listed.empty() ? "none" : listed, ")");
  }
  variant.init_from_variant = name + seed_suffix;
}

}  // namespace

Config resolved_config(const Variant& variant, const std::string& out_dir) {
  Config config = variant.config;
  if (variant.init_from_variant.empty()) return config;
  const std::string file =
      (fs::path(out_dir) / variant.init_from_variant / kCheckpointFile).string();
  config.train.init_from = file;
  config.root["train"]["init_from"] = file;
  return config;
}

Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    CNN_FAIL("experiment '", path, "': cannot open the file");
  } catch (const YAML::Exception& e) {
    CNN_FAIL("experiment '", path, "': invalid YAML at line ", e.mark.line + 1, ": ", e.msg);
  }
  CNN_CHECK(doc.IsMap(), path, ": expected a YAML mapping");
  ConfigReader(doc, path,
               {{"name", "the file's stem", "experiment name"},
                {"base", "required", "the config the variants change"},
                {"set", "{}", "dotted keys set in the base for every variant"},
                {"variants", "required (or grid)", "list of {name, set}"},
                {"grid", "required (or variants)", "dotted keys to lists of values"},
                {"seeds", "the config's seed", "run every variant once per seed, e.g. [0, 1, 2]"},
                {"claim", "none", "what `cnnlab study` judges the runs on (apps/study.h)"}})
      .check_known_keys("experiment");
  CNN_CHECK(doc["base"].IsDefined(), path, ": 'base' is required (the config the variants change)");
  CNN_CHECK(doc["variants"].IsDefined() != doc["grid"].IsDefined(), path,
            ": give either 'variants' (a list) or 'grid' (a mapping of keys to value lists), not ",
            doc["variants"].IsDefined() ? "both" : "neither");

  Experiment experiment;
  experiment.source_path = path;
  experiment.name = doc["name"].IsDefined() ? doc["name"].as<std::string>()
                                            : fs::path(path).stem().string();
  const std::string base_path = (fs::path(path).parent_path() / doc["base"].as<std::string>()).string();
  YAML::Node base = load_base(base_path, path);
  apply_set(base, doc["set"], path + ".set", false, nullptr);
  const std::vector<VariantSpec> specs = doc["variants"].IsDefined()
                                             ? listed_variants(doc["variants"], path)
                                             : grid_variants(doc["grid"], base, path, base_path);
  const std::vector<int64_t> seeds = experiment_seeds(doc["seeds"], path);
  std::vector<std::string> earlier;  // the variants listed before the current one
  for (const VariantSpec& spec : specs) {
    if (seeds.empty()) {
      experiment.variants.push_back(build_variant(spec, base, path, base_path, overrides));
      experiment.variants.back().group = spec.name;
      link_init_from(experiment.variants.back(), earlier, "", path);
    }
    for (int64_t seed : seeds) {
      VariantSpec seeded = spec;
      seeded.name = spec.name + "-seed" + std::to_string(seed);
      std::vector<std::string> with_seed = overrides;
      with_seed.push_back("seed=" + std::to_string(seed));
      experiment.variants.push_back(build_variant(seeded, base, path, base_path, with_seed));
      experiment.variants.back().group = spec.name;
      link_init_from(experiment.variants.back(), earlier, "-seed" + std::to_string(seed), path);
    }
    earlier.push_back(spec.name);
  }
  return experiment;
}

}  // namespace cnn
