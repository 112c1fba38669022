// The `norm` layer type: the model-level `norm` picks the layer, keys are forwarded where
// they apply, `none` keeps the index with an identity, and state-dict names match PyTorch.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "core/random.h"
#include "layers/batchnorm.h"
#include "layers/builder.h"
#include "layers/groupnorm.h"
#include "layers/instancenorm.h"
#include "layers/layernorm.h"
#include "layers/registry.h"

using namespace cnn;

namespace {

std::shared_ptr<Sequential> build(const std::string& norm, const std::string& norm_args,
                                  const Shape& input = {1, 3, 8, 8}) {
  std::string yaml = "norm: " + norm +
                     "\n"
                     "layers:\n"
                     "  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}\n"
                     "  - norm: " +
                     norm_args +
                     "\n"
                     "  - relu: {}\n";
  Generator gen(3);
  return build_model(YAML::Load(yaml), input, gen);
}

std::vector<std::string> state_names(const Module& model) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : model.state_dict()) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("norm becomes the model's normalization at the same index", "[norm_switch]") {
  struct Case {
    std::string norm, type;
  };
  for (const Case& c :
       {Case{"batch", "batchnorm2d"}, Case{"group", "groupnorm"}, Case{"layer", "layernorm"},
        Case{"instance", "instancenorm2d"}, Case{"none", "identity"}}) {
    INFO("norm: " << c.norm);
    auto model = build(c.norm, "{}");
    REQUIRE(model->size() == 3);
    REQUIRE(model->at(0)->type() == "conv2d");
    REQUIRE(model->at(1)->type() == c.type);
    REQUIRE(model->at(2)->type() == "relu");
    REQUIRE(model->output_shape({2, 3, 8, 8}) == Shape{2, 8, 8, 8});
  }
}

TEST_CASE("norm: state-dict names match PyTorch's nn.Sequential", "[norm_switch][state]") {
  // conv2d's bias is dropped (bias: auto) before an active normalization.
  REQUIRE(state_names(*build("batch", "{}")) ==
          std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean",
                                   "1.running_var", "1.num_batches_tracked"});
  REQUIRE(state_names(*build("group", "{}")) ==
          std::vector<std::string>{"0.weight", "1.weight", "1.bias"});
  auto layer = build("layer", "{}");
  REQUIRE(state_names(*layer) == std::vector<std::string>{"0.weight", "1.weight", "1.bias"});
  REQUIRE(layer->state_dict()[1].second.shape() == Shape{8, 8, 8});
  // Instance norm: PyTorch's defaults (no affine, no running statistics): nothing to save.
  REQUIRE(state_names(*build("instance", "{}")) == std::vector<std::string>{"0.weight"});
  // none: an identity keeps index 1, and the conv keeps its bias.
  REQUIRE(state_names(*build("none", "{}")) == std::vector<std::string>{"0.weight", "0.bias"});
}

TEST_CASE("norm forwards its keys where they apply and ignores the others", "[norm_switch][keys]") {
  const std::string args =
      "{eps: 0.001, momentum: 0.05, affine: true, num_groups: 4, track_running_stats: true, "
      "frozen: true}";
  auto bn = std::dynamic_pointer_cast<BatchNorm2d>(build("batch", args)->at(1));
  REQUIRE(bn);
  REQUIRE(bn->eps() == 0.001f);
  REQUIRE(bn->momentum() == 0.05f);
  REQUIRE(bn->frozen());
  auto gn = std::dynamic_pointer_cast<GroupNorm>(build("group", args)->at(1));
  REQUIRE(gn->num_groups() == 4);
  REQUIRE(gn->options().eps == 0.001f);
  auto ln = std::dynamic_pointer_cast<LayerNorm>(build("layer", "{affine: false}")->at(1));
  REQUIRE(ln->named_parameters().empty());
  auto in = std::dynamic_pointer_cast<InstanceNorm2d>(build("instance", args)->at(1));
  REQUIRE(in->options().affine);
  REQUIRE(in->options().track_running_stats);
  REQUIRE(in->options().momentum == 0.05f);
  REQUIRE(build("none", args)->at(1)->type() == "identity");
  // Group norm's default 32 groups, lowered to the 8 channels.
  gn = std::dynamic_pointer_cast<GroupNorm>(build("group", "{}")->at(1));
  REQUIRE(gn->num_groups() == 8);
  // Momentum null: the cumulative average for batch norm.
  bn = std::dynamic_pointer_cast<BatchNorm2d>(build("batch", "{momentum: null}")->at(1));
  REQUIRE_FALSE(bn->momentum().has_value());
  REQUIRE_THROWS_WITH(build("batch", "{num_group: 4}"), Catch::Contains("num_group"));
}

TEST_CASE("norm on features [N, F] becomes batchnorm1d, and instance norm there is an error",
          "[norm_switch]") {
  auto dense = [](const std::string& norm) {
    std::string yaml = "norm: " + norm +
                       "\nlayers:\n  - flatten: {}\n  - linear: {out_features: 6}\n"
                       "  - norm: {}\n";
    Generator gen(4);
    return build_model(YAML::Load(yaml), {1, 2, 3, 3}, gen);
  };
  REQUIRE(dense("batch")->at(2)->type() == "batchnorm1d");
  REQUIRE(state_names(*dense("batch"))[2] == "2.weight");
  REQUIRE(dense("layer")->at(2)->type() == "layernorm");
  REQUIRE(dense("group")->at(2)->type() == "groupnorm");
  REQUIRE(dense("none")->at(2)->type() == "identity");
  REQUIRE_THROWS_WITH(dense("instance"), Catch::Contains("model.layers[2]") &&
                                             Catch::Contains("[1, 6]") &&
                                             Catch::Contains("instance"));
}

TEST_CASE("norm types are registered with the right normalization flags", "[norm_switch]") {
  for (const char* type :
       {"batchnorm2d", "batchnorm1d", "groupnorm", "layernorm", "instancenorm2d"}) {
    INFO(type);
    REQUIRE(find_layer(type));
    REQUIRE(find_layer(type)->is_normalization);
  }
  // The builder decides for `norm` from the model's choice; identity never normalises.
  REQUIRE_FALSE(find_layer("norm")->is_normalization);
  REQUIRE_FALSE(find_layer("identity")->is_normalization);
  REQUIRE(find_layer("identity")->keys.empty());
}
