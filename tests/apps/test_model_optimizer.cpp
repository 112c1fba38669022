// make_model_optimizer: the optimizer of an `optim:` section over a built model, with the
// parameters layers/param_groups.h spares in the no_decay group.
#include <catch2/catch.hpp>

#include "apps/model_setup.h"
#include "layers/builder.h"

using namespace cnn;

TEST_CASE("make_model_optimizer groups a built model's parameters", "[apps][optim]") {
  Generator generator(1);
  auto model = build_model(YAML::Load("{norm: batch, layers: [{conv2d: {out_channels: 4, "
                                      "kernel_size: 3}}, {norm: {}}, {relu: {}}, {flatten: {}},"
                                      " {linear: {out_features: 2}}]}"),
                           {1, 3, 8, 8}, generator, "model");
  auto plain = make_model_optimizer(YAML::Load("{name: sgd, lr: 0.1, weight_decay: 0.1}"), *model);
  REQUIRE(plain->groups().size() == 1);
  CHECK(plain->groups()[0].names.size() == model->named_parameters().size());

  auto excluded = make_model_optimizer(YAML::Load("{name: adamw, exclude_norm_and_bias: true}"),
                                       *model, "train.optim");
  REQUIRE(excluded->groups().size() == 2);
  CHECK(excluded->groups()[0].names == std::vector<std::string>{"0.weight", "4.weight"});
  CHECK(excluded->groups()[1].names == std::vector<std::string>{"1.weight", "1.bias", "4.bias"});
  CHECK(*excluded->groups()[1].weight_decay == 0.0);
  CHECK_THROWS_WITH(make_model_optimizer(YAML::Load("{name: sgd}"), *model, "train.optim"),
                    Catch::Contains("train.optim.lr: this key is required"));
}
