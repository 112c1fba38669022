// Typed reading of YAML config values whose errors name the key path, shared by every
// config section (data, model layers, optim, schedule, train). Header-only: only the
// libraries that read configs (and link yaml-cpp) include it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "core/error.h"

namespace cnn {

// "'abc'", "a list", "a mapping" or "nothing", for "expected X, found Y" messages.
inline std::string describe_node(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a mapping";
}

// A scalar as T, or cnn::Error "<path>: expected <expected>, found <what was there>".
template <typename T>
T convert(const YAML::Node& node, const std::string& path, const char* expected) {
  try {
    if (!node.IsScalar()) throw YAML::BadConversion(node.Mark());
    return node.as<T>();
  } catch (const YAML::Exception&) {
    CNN_FAIL(path, ": expected ", expected, ", found ", describe_node(node));
  }
}

// Every key of the mapping `node` must be in `known`; else "<path>.<key>: unknown key
// (known keys here: ...)".
inline void check_known_keys(const YAML::Node& node, const std::set<std::string>& known,
                             const std::string& path) {
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.as<std::string>();
    if (known.count(key)) continue;
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    CNN_FAIL(path.empty() ? key : path + "." + key, ": unknown key (known keys here: ", list, ")");
  }
}

}  // namespace cnn
