// The typed config reader: every getter's error names the key path, required keys, range
// checks, the unknown-key check listing the known keys, and defaults taken from the key spec.
#include <catch2/catch.hpp>

#include "core/config_reader.h"

using namespace cnn;
using Catch::Contains;

namespace {
const std::vector<KeySpec> kKeys = {
    {"count", "3", "an integer"},
    {"rate", "0.5", "a number"},
    {"eps", default_text(1e-5f), "a float default made from a typed value"},
    {"on", "true", "a flag"},
    {"mode", "fast", "a name"},
    {"size", "2", "an int or a pair"},
    {"weights", "[1, 2.5]", "a float list"},
    {"needed", "required", "no default"},
    {"steps", "[]", "an int list"},
};

ConfigReader reader_of(const std::string& yaml) {
  return ConfigReader(YAML::Load(yaml), "section", kKeys);
}
}  // namespace

TEST_CASE("config reader: absent and null keys take the spec's default", "[core][config]") {
  const ConfigReader reader = reader_of("{on: null}");
  CHECK(reader.get_int("count") == 3);
  CHECK(reader.get_double("rate") == 0.5);
  CHECK(reader.get_float("eps") == 1e-5f);
  CHECK(reader.get_bool("on"));  // explicit null keeps the default
  CHECK(reader.get_string("mode") == "fast");
  CHECK(reader.get_pair("size") == std::pair<int64_t, int64_t>{2, 2});
  CHECK(reader.get_float_list("weights") == std::vector<float>{1.0f, 2.5f});
  CHECK(reader.get_int_list("steps").empty());
  CHECK_FALSE(reader.has("on"));
  CHECK(reader.is_null("on"));
  // A node that is absent altogether reads as all defaults.
  CHECK(ConfigReader(YAML::Node(), "section", kKeys).get_int("count") == 3);
}

TEST_CASE("config reader: given values win over defaults", "[core][config]") {
  const ConfigReader reader = reader_of(
      "{count: 7, rate: 2e-3, on: false, mode: slow, size: [3, 4], weights: [0.25], steps: [1, "
      "5], needed: 1}");
  CHECK(reader.get_int("count") == 7);
  CHECK(reader.get_double("rate") == 2e-3);
  CHECK_FALSE(reader.get_bool("on"));
  CHECK(reader.get_string("mode") == "slow");
  CHECK(reader.get_pair("size") == std::pair<int64_t, int64_t>{3, 4});
  CHECK(reader.get_float_list("weights") == std::vector<float>{0.25f});
  CHECK(reader.get_int_list("steps") == std::vector<int64_t>{1, 5});
  CHECK(reader.get_int("needed") == 1);
  CHECK(reader.get_double("rate", 9.0) == 2e-3);
  CHECK(reader_of("{}").get_double("rate", 9.0) == 9.0);  // a default the caller works out
}

TEST_CASE("config reader: each getter's error names the key path and what was found",
          "[core][config]") {
  CHECK_THROWS_WITH(reader_of("{count: abc}").get_int("count"),
                    "section.count: expected an integer, found 'abc'");
  CHECK_THROWS_WITH(reader_of("{rate: abc}").get_double("rate"),
                    "section.rate: expected a number, found 'abc'");
  CHECK_THROWS_WITH(reader_of("{rate: .inf}").get_double("rate"),
                    "section.rate: expected a finite number, found '.inf'");
  CHECK_THROWS_WITH(reader_of("{eps: [1]}").get_float("eps"),
                    "section.eps: expected a number, found a list");
  CHECK_THROWS_WITH(reader_of("{on: maybe}").get_bool("on"),
                    "section.on: expected true or false, found 'maybe'");
  CHECK_THROWS_WITH(reader_of("{mode: {a: 1}}").get_string("mode"),
                    "section.mode: expected a string, found a mapping");
  CHECK_THROWS_WITH(reader_of("{size: [1, 2, 3]}").get_pair("size"),
                    "section.size: expected an integer or a list of two, found a list of 3");
  CHECK_THROWS_WITH(reader_of("{size: [1, x]}").get_pair("size"),
                    "section.size[1]: expected an integer, found 'x'");
  CHECK_THROWS_WITH(reader_of("{size: x}").get_pair("size"),
                    "section.size: expected an integer or a list of two, found 'x'");
  CHECK_THROWS_WITH(reader_of("{weights: 1}").get_float_list("weights"),
                    "section.weights: expected a list of numbers, found '1'");
  CHECK_THROWS_WITH(reader_of("{weights: [1, y]}").get_float_list("weights"),
                    "section.weights[1]: expected a number, found 'y'");
  CHECK_THROWS_WITH(reader_of("{weights: [1]}").get_double_list("weights", 2),
                    "section.weights: expected a list of 2 numbers, found a list of 1");
  CHECK_THROWS_WITH(reader_of("{steps: [1, 2.5]}").get_int_list("steps"),
                    "section.steps[1]: expected an integer, found '2.5'");
  // At the top level the path is the key itself.
  CHECK_THROWS_WITH(ConfigReader(YAML::Load("{count: x}"), "", kKeys).get_int("count"),
                    "count: expected an integer, found 'x'");
}

TEST_CASE("config reader: a missing required key is named", "[core][config]") {
  CHECK_THROWS_WITH(reader_of("{}").get_int("needed"), "section.needed: this key is required");
  CHECK_THROWS_WITH(reader_of("{needed: null}").get_int("needed"),
                    "section.needed: this key is required");
  CHECK_THROWS_WITH(reader_of("{}").require("needed", "(for the test)"),
                    "section.needed: this key is required (for the test)");
  CHECK_NOTHROW(reader_of("{needed: 2}").require("needed"));
}

TEST_CASE("config reader: range checks name the key and the value", "[core][config]") {
  CHECK(reader_of("{count: 4}").get_positive_int("count") == 4);
  CHECK_THROWS_WITH(reader_of("{count: 0}").get_positive_int("count"),
                    "section.count: expected a positive integer, found 0");
  CHECK(reader_of("{count: 0}").get_non_negative_int("count") == 0);
  CHECK_THROWS_WITH(reader_of("{count: -2}").get_non_negative_int("count"),
                    "section.count: expected a non-negative integer, found -2");
  CHECK(reader_of("{}").get_choice("mode", {"fast", "slow"}) == "fast");
  CHECK_THROWS_WITH(reader_of("{mode: quick}").get_choice("mode", {"fast", "slow", "off"}),
                    "section.mode: expected fast, slow or off, found 'quick'");
  const ConfigReader reader = reader_of("{}");
  CHECK_NOTHROW(reader.check_at_least("rate", 0.0, 0.0));
  CHECK_THROWS_WITH(reader.check_at_least("rate", -1.0, 0.0), "section.rate: must be >= 0, got -1");
  CHECK_THROWS_WITH(reader.check_positive("rate", 0.0), "section.rate: must be > 0, got 0");
  CHECK_NOTHROW(reader.check_in_range("rate", 0.0, 0.0, 1.0, false));
  CHECK_THROWS_WITH(reader.check_in_range("weights[1]", 1.0, 0.0, 1.0, false),
                    "section.weights[1]: must be in [0, 1), got 1");
  CHECK_NOTHROW(reader.check_in_range("rate", 1.0, 0.0, 1.0, true));
  CHECK_THROWS_WITH(reader.check_in_range("rate", 2.0, 0.0, 1.0, true),
                    "section.rate: must be in [0, 1], got 2");
  CHECK_THROWS_WITH(reader.check("count", false, "needs ", 2, " more"),
                    "section.count: needs 2 more");
}

TEST_CASE("config reader: an unknown key is named with the known keys", "[core][config]") {
  CHECK_NOTHROW(reader_of("{count: 1, mode: slow}").check_known_keys("test"));
  CHECK_THROWS_WITH(reader_of("{count: 1, cuont: 2}").check_known_keys("test"),
                    "section.cuont: unknown key (test keys: count, rate, eps, on, mode, size, "
                    "weights, needed, steps)");
  CHECK_THROWS_WITH(ConfigReader(YAML::Load("{a: 1}"), "relu", {}).check_known_keys("relu"),
                    "relu.a: unknown key (relu keys: none)");
  CHECK_THROWS_WITH(reader_of("{count: 1, rate: 2}").check_used_keys("plain", {"count"}),
                    "section.rate: plain does not use this key (plain keys: count)");
  // A key the code reads but the spec does not list is a bug, said as one.
  CHECK_THROWS_WITH(reader_of("{}").get_int("unlisted"), Contains("does not list"));
}

TEST_CASE("default_text writes a typed default so that it parses back exactly", "[core][config]") {
  CHECK(default_text(1e-5f) == "1e-5");
  CHECK(default_text(0.1f) == "0.1");
  CHECK(default_text(1e-8) == "1e-8");
  CHECK(default_text(1e-3) == "0.001");
  CHECK(default_text(1e4) == "10000");
  CHECK(default_text(0.0) == "0");
  CHECK(default_text(int64_t{128}) == "128");
  CHECK(default_text(-1) == "-1");
  CHECK(default_text(true) == "true");
  CHECK(default_text(std::string()) == "\"\"");
  CHECK(default_text("cifar10") == "cifar10");
  CHECK(default_text(std::pair<int64_t, int64_t>{1, 1}) == "1");
  CHECK(default_text(std::pair<int64_t, int64_t>{2, 3}) == "[2, 3]");
  const double third = 1.0 / 3.0;
  const std::vector<KeySpec> keys = {{"third", default_text(third), ""},
                                     {"tiny", default_text(1e-5f), ""},
                                     {"empty", default_text(std::string()), ""}};
  const ConfigReader reader(YAML::Node(), "s", keys);
  CHECK(reader.get_double("third") == third);
  CHECK(reader.get_float("tiny") == 1e-5f);
  CHECK(reader.get_string("empty").empty());
}
