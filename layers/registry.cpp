// The layer registry: type name -> LayerInfo, filled at static-initialisation time.
#include "layers/registry.h"

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

}  // namespace cnn
