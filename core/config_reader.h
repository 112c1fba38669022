// The one typed reader of YAML config sections (data, model layers, optim, schedule, train).
// A section lists its keys as KeySpecs (name, default, help); the reader rejects a key that is
// not listed, reads each value as its type with range checks, and names the key path in every
// error ("optim.lr: expected a number, found 'abc'"). An absent or null key takes the default
// its spec gives, so a default is written once: in the spec, or in an options struct whose
// field the spec's text is made from (default_text).
//
//   const std::vector<KeySpec> keys = {{"p", "0.5", "probability of zeroing an element"}};
//   ConfigReader reader(node, "model.layers[3].dropout", keys);
//   reader.check_known_keys("dropout");
//   float p = reader.get_float("p");  // 0.5 when absent
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"

namespace cnn {

// One key of a config section. `default_value` is the default as YAML text: what listings
// (`cnnlab layers`) print and what the reader parses when the key is absent. "required" (or
// any text starting with it) means there is none. Other text that does not parse as the key's
// type ("auto", "optim.lr") describes a default the reading code works out itself.
struct KeySpec {
  std::string name;
  std::string default_value;
  std::string help;
};

// The YAML text of a typed default, for a KeySpec made from an options struct's field.
// Parsing it back as the same type gives exactly the value: shortest round-trip digits with a
// plain exponent (1e-5f -> "1e-5", 0.1 -> "0.1", 1.0 / 3 -> "0.3333333333333333"),
// true -> "true", "" -> "\"\"", a square pair {1, 1} -> "1" and {2, 3} -> "[2, 3]".
namespace config_detail {
std::string number_text(double value);
std::string number_text(float value);
std::string number_text(int64_t value);
std::string number_text(uint64_t value);
std::string pair_text(int64_t first, int64_t second);
}  // namespace config_detail

template <typename T>
std::string default_text(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    return config_detail::number_text(value);
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return config_detail::number_text(static_cast<int64_t>(value));
  } else if constexpr (std::is_integral_v<T>) {
    return config_detail::number_text(static_cast<uint64_t>(value));
  } else if constexpr (std::is_same_v<T, std::pair<int64_t, int64_t>>) {
    return config_detail::pair_text(value.first, value.second);
  } else {
    const std::string text(value);
    return text.empty() ? "\"\"" : text;
  }
}

// "'abc'", "a list", "a mapping" or "nothing", for "expected X, found Y" messages.
std::string describe_node(const YAML::Node& node);

// One YAML mapping of a config section, its key path and the keys it may hold.
class ConfigReader {
 public:
  // `node`: the section's mapping (absent or null: every key takes its default). `path`: its
  // key path in errors ("optim", "model.layers[3].conv2d"; "" for the document's top level).
  ConfigReader(YAML::Node node, std::string path, std::vector<KeySpec> keys);

  // Every key of the mapping is one of the spec's:
  //   "<path>.<key>: unknown key (<what> keys: a, b, c)".
  void check_known_keys(const std::string& what) const;
  // Every key of the mapping is one of `used` (the keys the chosen `variant` reads):
  //   "<path>.<key>: <variant> does not use this key (<variant> keys: a, b)".
  void check_used_keys(const std::string& variant, const std::vector<std::string>& used) const;

  bool has(const std::string& key) const;      // present and not null
  bool is_null(const std::string& key) const;  // present and explicitly null
  // Fails "<path>.<key>: this key is required<why>" when the key is absent or null.
  void require(const std::string& key, const std::string& why = "") const;

  // Typed getters: the key's value, else its spec's default. A spec without a default makes
  // an absent key "<path>.<key>: this key is required". Numbers must be finite.
  int64_t get_int(const std::string& key) const;
  uint64_t get_uint(const std::string& key, const char* expected = "a non-negative integer") const;
  double get_double(const std::string& key) const;
  float get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key, const char* expected = "a string") const;
  // An int or a two-element list ([h, w]); `kernel_size: 3` gives {3, 3}.
  std::pair<int64_t, int64_t> get_pair(const std::string& key) const;
  std::vector<float> get_float_list(const std::string& key) const;
  std::vector<double> get_double_list(const std::string& key, size_t count) const;  // exactly
  std::vector<int64_t> get_int_list(const std::string& key) const;
  // The value as it is (an undefined node when absent), for nested sections.
  YAML::Node get_node(const std::string& key) const;

  // For a default that depends on other keys or on the run (`max_lr` defaults to `optim.lr`),
  // or that differs between the section's variants (sgd's and adamw's weight_decay); the
  // spec's text then describes it, made from the same values with default_text.
  double get_double(const std::string& key, double otherwise) const;
  bool get_bool(const std::string& key, bool otherwise) const;

  // Range checks on top of the getters; errors name the key path and the value.
  int64_t get_positive_int(const std::string& key) const;      // "expected a positive integer"
  int64_t get_non_negative_int(const std::string& key) const;  // "... a non-negative integer"
  // One of `choices`: "<path>.<key>: expected a, b or c, found 'x'".
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices) const;
  // "<path>.<key>: must be >= <low>, got <value>" / "must be > 0, got <value>". `key` may name
  // a list item ("betas[1]").
  void check_at_least(const std::string& key, double value, double low) const;
  void check_positive(const std::string& key, double value) const;
  // low <= value < high (or <= high when `include_high`): "must be in [0, 1), got 1".
  void check_in_range(const std::string& key, double value, double low, double high,
                      bool include_high) const;
  // Any other check: fails "<key path>: <parts...>" when `ok` is false.
  template <typename... Parts>
  void check(const std::string& key, bool ok, const Parts&... parts) const {
    if (!ok) CNN_FAIL(key_path(key), ": ", parts...);
  }

  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;  // "<path>.<key>" (or "<key>" at the top)
  std::string item_path(const std::string& key, size_t index) const;  // "<path>.<key>[i]"
  const YAML::Node& node() const { return node_; }
  const std::vector<KeySpec>& keys() const { return keys_; }
  // The spec of `key`; a key the spec does not list is a programming error.
  const KeySpec& spec(const std::string& key) const;

 private:
  // The node to read `key` from: its value, else its default parsed from the spec, else
  // "this key is required".
  YAML::Node value_of(const std::string& key) const;

  YAML::Node node_;
  std::string path_;
  std::vector<KeySpec> keys_;
};

// A scalar as T, or cnn::Error "<path>: expected <expected>, found <what was there>"; a
// floating-point T must be finite. For values inside a list or a nested mapping.
template <typename T>
T convert(const YAML::Node& node, const std::string& path, const char* expected);

extern template int64_t convert<int64_t>(const YAML::Node&, const std::string&, const char*);
extern template uint64_t convert<uint64_t>(const YAML::Node&, const std::string&, const char*);
extern template double convert<double>(const YAML::Node&, const std::string&, const char*);
extern template float convert<float>(const YAML::Node&, const std::string&, const char*);
extern template bool convert<bool>(const YAML::Node&, const std::string&, const char*);
extern template std::string convert<std::string>(const YAML::Node&, const std::string&,
                                                 const char*);

}  // namespace cnn
