// Layer registry and the typed accessors over a layer's YAML keys.
#include "layers/registry.h"
#include "core/yaml_read.h"

#include <algorithm>
#include <map>

namespace cnn {

namespace {
std::map<std::string, LayerInfo>& registry() {
  static std::map<std::string, LayerInfo> layers;  // constructed on first use
  return layers;
}

}  // namespace

void register_layer(LayerInfo info) {
  std::string type = info.type;
  auto [it, inserted] = registry().emplace(type, std::move(info));
  if (!inserted) CNN_FAIL("layer type '", type, "' is registered twice");
}

const LayerInfo* find_layer(const std::string& type) {
  auto it = registry().find(type);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<const LayerInfo*> registered_layers() {
  std::vector<const LayerInfo*> out;
  for (const auto& [type, info] : registry()) out.push_back(&info);
  return out;
}

LayerArgs::LayerArgs(YAML::Node node, std::string path)
    : node_(std::move(node)), path_(std::move(path)) {}

bool LayerArgs::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

bool LayerArgs::is_null(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && node_[key].IsNull();
}

int64_t LayerArgs::get_int(const std::string& key) const {
  CNN_CHECK(has(key), key_path(key), ": this key is required");
  return convert<int64_t>(node_[key], key_path(key), "an integer");
}

int64_t LayerArgs::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

float LayerArgs::get_float(const std::string& key, float fallback) const {
  return has(key) ? convert<float>(node_[key], key_path(key), "a number") : fallback;
}

bool LayerArgs::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? convert<bool>(node_[key], key_path(key), "true or false") : fallback;
}

std::string LayerArgs::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? convert<std::string>(node_[key], key_path(key), "a string") : fallback;
}

std::pair<int64_t, int64_t> LayerArgs::get_pair(const std::string& key) const {
  CNN_CHECK(has(key), key_path(key), ": this key is required");
  const YAML::Node value = node_[key];
  if (value.IsSequence()) {
    CNN_CHECK(value.size() == 2, key_path(key), ": expected an integer or a list of two, found a "
                                 "list of ", value.size());
    return {convert<int64_t>(value[0], key_path(key) + "[0]", "an integer"),
            convert<int64_t>(value[1], key_path(key) + "[1]", "an integer")};
  }
  int64_t v = convert<int64_t>(value, key_path(key), "an integer or a list of two");
  return {v, v};
}

std::pair<int64_t, int64_t> LayerArgs::get_pair(const std::string& key,
                                                std::pair<int64_t, int64_t> fallback) const {
  return has(key) ? get_pair(key) : fallback;
}

std::vector<float> LayerArgs::get_float_list(const std::string& key) const {
  CNN_CHECK(has(key), key_path(key), ": this key is required");
  const YAML::Node value = node_[key];
  CNN_CHECK(value.IsSequence(), key_path(key), ": expected a list of numbers, found ",
            describe_node(value));
  std::vector<float> out;
  for (size_t i = 0; i < value.size(); ++i)
    out.push_back(convert<float>(value[i], key_path(key) + "[" + std::to_string(i) + "]",
                                 "a number"));
  return out;
}

YAML::Node LayerArgs::get_node(const std::string& key) const {
  return node_.IsMap() ? node_[key] : YAML::Node();
}

}  // namespace cnn
