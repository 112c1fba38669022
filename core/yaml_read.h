// Typed reading of YAML config values whose errors name the key path, shared by every
// config section (data, model layers, optim, schedule, train). Header-only: only the
// libraries that read configs (and link yaml-cpp) include it.
#pragma once

#include <yaml-cpp/yaml.h>

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

}  // namespace cnn
