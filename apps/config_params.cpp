// Flattening a config for the store's params (see config_params.h).
#include "apps/config_params.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace cnn {
namespace {

void flatten(const YAML::Node& node, const std::string& path,
             std::vector<std::pair<std::string, std::string>>& out) {
  const std::string prefix = path.empty() ? "" : path + ".";
  if (node.IsMap()) {
    for (const auto& item : node) flatten(item.second, prefix + item.first.as<std::string>(), out);
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) flatten(node[i], prefix + std::to_string(i), out);
  } else if (node.IsScalar()) {
    out.emplace_back(path, node.Scalar());
  } else if (node.IsNull() && !path.empty()) {
    out.emplace_back(path, "null");
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> flatten_config(const std::string& yaml) {
  std::vector<std::pair<std::string, std::string>> out;
  if (yaml.empty()) return out;
  try {
    flatten(YAML::Load(yaml), "", out);
  } catch (const YAML::Exception&) {
    return {};  // a config the store cannot read is kept as YAML alone
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
            out.end());
  return out;
}

}  // namespace cnn
