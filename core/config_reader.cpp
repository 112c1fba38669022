// The typed config reader: conversions, defaults from the key spec, range checks and the
// unknown-key check, each error naming the key path.
#include "core/config_reader.h"

#include <charconv>
#include <cmath>

namespace cnn {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// "a", "a or b", "a, b or c".
std::string alternatives(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return out;
}

bool is_required(const KeySpec& spec) { return spec.default_value.rfind("required", 0) == 0; }

// Shortest round-trip digits, with the exponent as a person writes it ("1e-05" -> "1e-5").
template <typename T>
std::string shortest_text(T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  const size_t e = text.find('e');
  if (e == std::string::npos) return text;
  size_t digits = e + 1;
  const bool negative = text[digits] == '-';
  if (text[digits] == '-' || text[digits] == '+') ++digits;
  while (digits + 1 < text.size() && text[digits] == '0') ++digits;
  return text.substr(0, e + 1) + (negative ? "-" : "") + text.substr(digits);
}

}  // namespace

namespace config_detail {
std::string number_text(double value) { return shortest_text(value); }
std::string number_text(float value) { return shortest_text(value); }
std::string number_text(int64_t value) { return std::to_string(value); }
std::string number_text(uint64_t value) { return std::to_string(value); }
std::string pair_text(int64_t first, int64_t second) {
  if (first == second) return std::to_string(first);
  std::string text = "[";  // appended, not "[" + ...: GCC 12 warns falsely on that (-Wrestrict)
  text += std::to_string(first);
  text += ", ";
  text += std::to_string(second);
  text += "]";
  return text;
}
}  // namespace config_detail

std::string describe_node(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a mapping";
}

template <typename T>
T convert(const YAML::Node& node, const std::string& path, const char* expected) {
  try {
    if (!node.IsScalar()) throw YAML::BadConversion(node.Mark());
    T value = node.as<T>();
    if constexpr (std::is_floating_point_v<T>)
      CNN_CHECK(std::isfinite(value), path, ": expected a finite number, found '", node.Scalar(),
                "'");
    return value;
  } catch (const YAML::Exception&) {
    CNN_FAIL(path, ": expected ", expected, ", found ", describe_node(node));
  }
}

template int64_t convert<int64_t>(const YAML::Node&, const std::string&, const char*);
template uint64_t convert<uint64_t>(const YAML::Node&, const std::string&, const char*);
template double convert<double>(const YAML::Node&, const std::string&, const char*);
template float convert<float>(const YAML::Node&, const std::string&, const char*);
template bool convert<bool>(const YAML::Node&, const std::string&, const char*);
template std::string convert<std::string>(const YAML::Node&, const std::string&, const char*);

ConfigReader::ConfigReader(YAML::Node node, std::string path, std::vector<KeySpec> keys)
    : node_(std::move(node)), path_(std::move(path)), keys_(std::move(keys)) {}

std::string ConfigReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string ConfigReader::item_path(const std::string& key, size_t index) const {
  return key_path(key) + "[" + std::to_string(index) + "]";
}

const KeySpec& ConfigReader::spec(const std::string& key) const {
  for (const KeySpec& spec : keys_)
    if (spec.name == key) return spec;
  CNN_FAIL(key_path(key), ": the code reads a key its key spec does not list (a bug in cnnlab)");
}

void ConfigReader::check_known_keys(const std::string& what) const {
  if (!node_.IsMap()) return;
  std::vector<std::string> names;
  for (const KeySpec& spec : keys_) names.push_back(spec.name);
  for (const auto& item : node_) {
    const std::string key = item.first.Scalar();
    bool known = false;
    for (const std::string& name : names) known = known || name == key;
    CNN_CHECK(known, key_path(key), ": unknown key (", what,
              " keys: ", names.empty() ? std::string("none") : join(names), ")");
  }
}

void ConfigReader::check_used_keys(const std::string& variant,
                                   const std::vector<std::string>& used) const {
  if (!node_.IsMap()) return;
  for (const auto& item : node_) {
    const std::string key = item.first.Scalar();
    bool allowed = false;
    for (const std::string& name : used) allowed = allowed || name == key;
    CNN_CHECK(allowed, key_path(key), ": ", variant, " does not use this key (", variant,
              " keys: ", join(used), ")");
  }
}

bool ConfigReader::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

bool ConfigReader::is_null(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && node_[key].IsNull();
}

void ConfigReader::require(const std::string& key, const std::string& why) const {
  CNN_CHECK(has(key), key_path(key), ": this key is required", why.empty() ? "" : " ", why);
}

YAML::Node ConfigReader::value_of(const std::string& key) const {
  const KeySpec& key_spec = spec(key);
  if (has(key)) return node_[key];
  CNN_CHECK(!is_required(key_spec), key_path(key), ": this key is required");
  try {
    return YAML::Load(key_spec.default_value);
  } catch (const YAML::Exception&) {
    CNN_FAIL(key_path(key), ": its default '", key_spec.default_value,
             "' is not YAML (a bug in cnnlab's key spec)");
  }
}

int64_t ConfigReader::get_int(const std::string& key) const {
  return convert<int64_t>(value_of(key), key_path(key), "an integer");
}

uint64_t ConfigReader::get_uint(const std::string& key, const char* expected) const {
  return convert<uint64_t>(value_of(key), key_path(key), expected);
}

double ConfigReader::get_double(const std::string& key) const {
  return convert<double>(value_of(key), key_path(key), "a number");
}

float ConfigReader::get_float(const std::string& key) const {
  return convert<float>(value_of(key), key_path(key), "a number");
}

bool ConfigReader::get_bool(const std::string& key) const {
  return convert<bool>(value_of(key), key_path(key), "true or false");
}

std::string ConfigReader::get_string(const std::string& key, const char* expected) const {
  return convert<std::string>(value_of(key), key_path(key), expected);
}

double ConfigReader::get_double(const std::string& key, double otherwise) const {
  spec(key);
  return has(key) ? convert<double>(node_[key], key_path(key), "a number") : otherwise;
}

bool ConfigReader::get_bool(const std::string& key, bool otherwise) const {
  spec(key);
  return has(key) ? convert<bool>(node_[key], key_path(key), "true or false") : otherwise;
}

std::pair<int64_t, int64_t> ConfigReader::get_pair(const std::string& key) const {
  const YAML::Node value = value_of(key);
  if (value.IsSequence()) {
    CNN_CHECK(value.size() == 2, key_path(key),
              ": expected an integer or a list of two, found a list of ", value.size());
    return {convert<int64_t>(value[0], item_path(key, 0), "an integer"),
            convert<int64_t>(value[1], item_path(key, 1), "an integer")};
  }
  const auto both = convert<int64_t>(value, key_path(key), "an integer or a list of two");
  return {both, both};
}

std::vector<float> ConfigReader::get_float_list(const std::string& key) const {
  const YAML::Node value = value_of(key);
  CNN_CHECK(value.IsSequence(), key_path(key), ": expected a list of numbers, found ",
            describe_node(value));
  std::vector<float> out;
  for (size_t i = 0; i < value.size(); ++i)
    out.push_back(convert<float>(value[i], item_path(key, i), "a number"));
  return out;
}

std::vector<double> ConfigReader::get_double_list(const std::string& key, size_t count) const {
  const YAML::Node value = value_of(key);
  CNN_CHECK(
      value.IsSequence() && value.size() == count, key_path(key), ": expected a list of ", count,
      " numbers, found ",
      value.IsSequence() ? "a list of " + std::to_string(value.size()) : describe_node(value));
  std::vector<double> out;
  for (size_t i = 0; i < count; ++i)
    out.push_back(convert<double>(value[i], item_path(key, i), "a number"));
  return out;
}

std::vector<int64_t> ConfigReader::get_int_list(const std::string& key) const {
  const YAML::Node value = value_of(key);
  CNN_CHECK(value.IsSequence(), key_path(key), ": expected a list of integers, found ",
            describe_node(value));
  std::vector<int64_t> out;
  for (size_t i = 0; i < value.size(); ++i)
    out.push_back(convert<int64_t>(value[i], item_path(key, i), "an integer"));
  return out;
}

YAML::Node ConfigReader::get_node(const std::string& key) const {
  spec(key);
  // A const mapping's [] of an absent key is an invalid node that throws when asked its type.
  if (node_.IsMap() && node_[key].IsDefined()) return node_[key];
  return YAML::Node(YAML::NodeType::Undefined);
}

int64_t ConfigReader::get_positive_int(const std::string& key) const {
  const int64_t value = get_int(key);
  CNN_CHECK(value > 0, key_path(key), ": expected a positive integer, found ", value);
  return value;
}

int64_t ConfigReader::get_non_negative_int(const std::string& key) const {
  const int64_t value = get_int(key);
  CNN_CHECK(value >= 0, key_path(key), ": expected a non-negative integer, found ", value);
  return value;
}

std::string ConfigReader::get_choice(const std::string& key,
                                     const std::vector<std::string>& choices) const {
  const std::string expected = alternatives(choices);
  const std::string value = get_string(key, expected.c_str());
  for (const std::string& choice : choices)
    if (value == choice) return value;
  CNN_FAIL(key_path(key), ": expected ", expected, ", found '", value, "'");
}

void ConfigReader::check_at_least(const std::string& key, double value, double low) const {
  CNN_CHECK(value >= low, key_path(key), ": must be >= ", low, ", got ", value);
}

void ConfigReader::check_positive(const std::string& key, double value) const {
  CNN_CHECK(value > 0.0, key_path(key), ": must be > 0, got ", value);
}

void ConfigReader::check_in_range(const std::string& key, double value, double low, double high,
                                  bool include_high) const {
  CNN_CHECK(value >= low && (include_high ? value <= high : value < high), key_path(key),
            ": must be in [", low, ", ", high, include_high ? "]" : ")", ", got ", value);
}

}  // namespace cnn
