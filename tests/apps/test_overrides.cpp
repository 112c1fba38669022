// `--set key=value` overrides: dotted keys walk (and create) nested mappings, values are
// parsed as YAML, and an override through a non-mapping or without '=' is an error.
#include <catch2/catch.hpp>

#include "apps/config.h"
#include "core/error.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;

TEST_CASE("overrides: --set replaces a nested value parsed as YAML", "[apps][overrides]") {
  YAML::Node root = YAML::Load(tiny_config_yaml("data"));
  apply_override(root, "optim.lr=0.125");
  CHECK(root["optim"]["lr"].as<double>() == 0.125);
  CHECK(root["optim"]["momentum"].as<double>() == 0.9);  // siblings stay

  apply_override(root, "train.epochs=7");
  Config config = config_from_yaml(root, "tiny.yaml");
  CHECK(config.train.epochs == 7);

  apply_override(root, "model.norm=none");  // a plain string, not YAML null
  REQUIRE(root["model"]["norm"].IsScalar());
  CHECK(root["model"]["norm"].as<std::string>() == "none");

  apply_override(root, "data.augment=[hflip, random_crop]");
  REQUIRE(root["data"]["augment"].IsSequence());
  CHECK(root["data"]["augment"].size() == 2);
  CHECK(root["data"]["augment"][1].as<std::string>() == "random_crop");

  apply_override(root, "data.normalize={mean: [0.1, 0.2, 0.3], std: [1, 1, 1]}");
  CHECK(root["data"]["normalize"]["mean"][2].as<double>() == Approx(0.3));

  apply_override(root, "name=renamed run");  // everything after the first '=' is the value
  CHECK(root["name"].as<std::string>() == "renamed run");
  apply_override(root, "data.root=a=b");
  CHECK(root["data"]["root"].as<std::string>() == "a=b");
}

TEST_CASE("overrides: --set creates missing mappings on the way", "[apps][overrides]") {
  YAML::Node root = YAML::Load(tiny_config_yaml("data"));
  root.remove("train");
  apply_override(root, "train.layer_stats_every=5");
  CHECK(root["train"].IsMap());
  CHECK(config_from_yaml(root, "tiny.yaml").train.layer_stats_every == 5);

  YAML::Node empty(YAML::NodeType::Map);
  apply_override(empty, "a.b.c=3");
  CHECK(empty["a"]["b"]["c"].as<int>() == 3);
  // A null section (`train:` with nothing under it) becomes a mapping too.
  YAML::Node with_null = YAML::Load("train:\n");
  apply_override(with_null, "train.epochs=2");
  CHECK(with_null["train"]["epochs"].as<int>() == 2);
}

TEST_CASE("overrides: --set through a value that is not a mapping is an error naming both keys",
          "[apps][overrides]") {
  YAML::Node root = YAML::Load(tiny_config_yaml("data"));
  CHECK_THROWS_WITH(apply_override(root, "optim.lr.x=1"),
                    Contains("optim.lr.x") && Contains("'optim.lr' is not a mapping"));
  CHECK_THROWS_WITH(apply_override(root, "model.layers.0=1"),
                    Contains("'model.layers' is not a mapping"));
  CHECK(root["optim"]["lr"].as<double>() == 0.05);  // nothing changed
}

TEST_CASE("overrides: --set without '=' or with a bad key or value is an error",
          "[apps][overrides]") {
  YAML::Node root = YAML::Load(tiny_config_yaml("data"));
  CHECK_THROWS_WITH(apply_override(root, "optim.lr"), Contains("key=value"));
  CHECK_THROWS_WITH(apply_override(root, "=3"), Contains("key=value"));
  CHECK_THROWS_WITH(apply_override(root, "optim..lr=3"), Contains("empty component"));
  CHECK_THROWS_WITH(apply_override(root, "optim.lr=[1, 2"), Contains("not valid YAML"));
}

TEST_CASE("overrides: an override of an unknown or mistyped key fails when the config is checked",
          "[apps][overrides]") {
  TempDir tmp;
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data"));
  CHECK_THROWS_WITH(load_config(tmp / "tiny.yaml", {"train.epochz=3"}), Contains("train.epochz"));
  CHECK_THROWS_WITH(load_config(tmp / "tiny.yaml", {"train.epochs=abc"}),
                    Contains("train.epochs") && Contains("'abc'"));
  Config config = load_config(tmp / "tiny.yaml", {"optim.lr=0.01", "train.epochs=4", "seed=11"});
  CHECK(config.root["optim"]["lr"].as<double>() == 0.01);
  CHECK(config.train.epochs == 4);
  CHECK(config.seed == 11);
  CHECK(config.source_path == tmp / "tiny.yaml");
}

TEST_CASE("overrides: get_dotted and set_dotted with must_exist", "[apps][overrides]") {
  YAML::Node root = YAML::Load(tiny_config_yaml("data"));
  CHECK(get_dotted(root, "optim.lr").as<double>() == 0.05);
  CHECK_FALSE(get_dotted(root, "optim.lrr").IsDefined());
  CHECK_FALSE(get_dotted(root, "optim.lr.x").IsDefined());
  CHECK_THROWS_WITH(set_dotted(root, "optim.lrr", YAML::Node(1), true, "grid"),
                    Contains("grid") && Contains("'optim.lrr' does not exist"));
  CHECK_THROWS_WITH(set_dotted(root, "optimizer.lr", YAML::Node(1), true, "grid"),
                    Contains("'optimizer' is missing"));
  set_dotted(root, "optim.lr", YAML::Node(0.2), true, "grid");
  CHECK(root["optim"]["lr"].as<double>() == 0.2);
}
