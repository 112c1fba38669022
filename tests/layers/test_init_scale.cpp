// model.init_scale: every conv2d and linear weight (a residual block's too) is the x1 model's
// times the factor, from the same seed; biases and normalization weights are untouched; a
// factor out of range is refused with the key named.
#include <catch2/catch.hpp>
#include <map>

#include "core/random.h"
#include "layers/builder.h"
#include "layers/init_scale.h"

using namespace cnn;
using Catch::Contains;

namespace {

const char* const kModel = R"(
norm: batch
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - norm: {}
  - relu: {}
  - residual:
      body:
        - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
        - norm: {}
  - conv2d: {out_channels: 4, kernel_size: 1}
  - flatten: {}
  - linear: {out_features: 3}
)";

std::map<std::string, std::vector<float>> built_with_scale(const std::string& scale) {
  YAML::Node model = YAML::Load(kModel);
  if (!scale.empty()) model["init_scale"] = scale;
  Generator gen(7);
  auto net = build_model(model, {1, 2, 4, 4}, gen);
  std::map<std::string, std::vector<float>> values;
  for (const auto& [name, tensor] : net->named_parameters())
    values[name].assign(tensor.data(), tensor.data() + tensor.numel());
  return values;
}

}  // namespace

TEST_CASE("init_scale multiplies the conv and linear weights only", "[layers][init_scale]") {
  const auto plain = built_with_scale("");
  REQUIRE(plain == built_with_scale("1"));  // the default
  for (const char* factor : {"0.1", "10"}) {
    const float scale = std::stof(factor);
    const auto scaled = built_with_scale(factor);
    REQUIRE(scaled.size() == plain.size());
    int weights = 0;
    for (const auto& [name, values] : plain) {
      INFO(factor << " " << name);
      // conv/linear weights: "0.weight", "3.body.0.weight", "4.weight", "6.weight"; the norms'
      // weights are "1.weight" and "3.body.1.weight".
      const bool scales = name == "0.weight" || name == "3.body.0.weight" || name == "4.weight" ||
                          name == "6.weight";
      weights += scales;
      const std::vector<float>& got = scaled.at(name);
      REQUIRE(got.size() == values.size());
      for (size_t i = 0; i < values.size(); ++i)
        REQUIRE(got[i] == (scales ? values[i] * scale : values[i]));
    }
    CHECK(weights == 4);
  }
}

TEST_CASE("init_scale out of range is refused, naming the key", "[layers][init_scale]") {
  for (const char* bad : {"0", "-1", "1e4", "0.0009"}) {
    INFO(bad);
    YAML::Node model = YAML::Load(kModel);
    model["init_scale"] = bad;
    Generator gen(0);
    CHECK_THROWS_WITH(build_model(model, {1, 2, 4, 4}, gen),
                      Contains("model.init_scale") && Contains("[0.001, 1000]"));
  }
  YAML::Node model = YAML::Load(kModel);
  model["init_scale"] = ".nan";  // the config reader's own check
  Generator gen(0);
  CHECK_THROWS_WITH(build_model(model, {1, 2, 4, 4}, gen),
                    Contains("model.init_scale") && Contains("finite"));
  CHECK(built_with_scale("0.001").size() == built_with_scale("1000").size());
}
