// Experiment files: a base config (resolved relative to the experiment file), shared
// settings, and variants listed or as a grid; every mistake is found before any run.
#include <catch2/catch.hpp>
#include <filesystem>

#include "apps/experiment.h"
#include "core/error.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// tmp/models/base.yaml and tmp/experiments/<name>.yaml with `base: ../models/base.yaml`.
struct ExperimentFolder {
  TempDir tmp{"cnnlab_exp"};
  ExperimentFolder() { write_text(tmp / "models/base.yaml", tiny_config_yaml(tmp / "data")); }
  std::string write(const std::string& name, const std::string& body) {
    std::string path = tmp / ("experiments/" + name + ".yaml");
    write_text(path, "base: ../models/base.yaml\n" + body);
    return path;
  }
};

std::string load_error(const std::string& path) {
  try {
    load_experiment(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("experiment: list form with shared settings and --set", "[apps][experiment]") {
  ExperimentFolder folder;
  std::string path = folder.write("bn_vs_plain",
                                  "name: bn_vs_plain\n"
                                  "set: {train.epochs: 3, data.batch_size: 16}\n"
                                  "variants:\n"
                                  "  - {name: bn,    set: {model.norm: batch}}\n"
                                  "  - {name: plain, set: {model.norm: none, optim.lr: 0.01}}\n"
                                  "  - {name: base}\n");
  // Loaded from another working directory: `base` is relative to the experiment file.
  Experiment experiment = load_experiment(path, {"optim.momentum=0.5"});
  CHECK(experiment.name == "bn_vs_plain");
  CHECK(experiment.source_path == path);
  REQUIRE(experiment.variants.size() == 3);
  const Variant& bn = experiment.variants[0];
  const Variant& plain = experiment.variants[1];
  CHECK(bn.name == "bn");
  CHECK(plain.name == "plain");
  CHECK(experiment.variants[2].name == "base");
  CHECK(bn.config.root["model"]["norm"].as<std::string>() == "batch");
  CHECK(plain.config.root["model"]["norm"].as<std::string>() == "none");
  CHECK(plain.config.root["optim"]["lr"].as<double>() == 0.01);
  CHECK(bn.config.root["optim"]["lr"].as<double>() == 0.05);
  for (const Variant& v : experiment.variants) {
    INFO(v.name);
    CHECK(v.config.train.epochs == 3);                              // shared set
    CHECK(v.config.root["data"]["batch_size"].as<int>() == 16);     // shared set
    CHECK(v.config.root["optim"]["momentum"].as<double>() == 0.5);  // --set
  }
  // The base config's own name wins; the variant name is the run folder's name.
  CHECK(bn.config.name == "tiny");
  CHECK(plain.settings == std::vector<std::pair<std::string, std::string>>{{"model.norm", "none"},
                                                                           {"optim.lr", "0.01"}});
  CHECK(experiment.variants[2].settings.empty());
}

TEST_CASE("experiment: a variant without a name in its base config is named after the variant",
          "[apps][experiment]") {
  ExperimentFolder folder;
  YAML::Node base = YAML::LoadFile(folder.tmp / "models/base.yaml");
  base.remove("name");
  write_text(folder.tmp / "models/base.yaml", to_yaml_string(base));
  Experiment experiment = load_experiment(folder.write("named", "variants:\n  - {name: only}\n"));
  CHECK(experiment.name == "named");  // the file's stem when the experiment has no name
  REQUIRE(experiment.variants.size() == 1);
  CHECK(experiment.variants[0].config.name == "only");
}

TEST_CASE("experiment: grid form gives the cartesian product with readable names",
          "[apps][experiment]") {
  ExperimentFolder folder;
  Experiment experiment = load_experiment(
      folder.write("grid", "grid: {model.norm: [batch, none], optim.lr: [0.01, 0.05]}\n"));
  REQUIRE(experiment.variants.size() == 4);
  std::vector<std::string> names;
  for (const Variant& v : experiment.variants) names.push_back(v.name);
  CHECK(names == std::vector<std::string>{"norm=batch_lr=0.01", "norm=batch_lr=0.05",
                                          "norm=none_lr=0.01", "norm=none_lr=0.05"});
  const char* norms[] = {"batch", "batch", "none", "none"};
  double lrs[] = {0.01, 0.05, 0.01, 0.05};
  for (size_t i = 0; i < 4; ++i) {
    INFO(names[i]);
    CHECK(experiment.variants[i].config.root["model"]["norm"].as<std::string>() == norms[i]);
    CHECK(experiment.variants[i].config.root["optim"]["lr"].as<double>() == lrs[i]);
    CHECK(experiment.variants[i].settings.size() == 2);
  }
}

TEST_CASE("experiment: mistakes are named before anything runs", "[apps][experiment]") {
  ExperimentFolder folder;
  SECTION("an unknown key in a variant") {
    std::string message =
        load_error(folder.write("typo",
                                "variants:\n  - {name: bn, set: {model.norm: batch}}\n"
                                "  - {name: plain, sett: {model.norm: none}}\n"));
    CHECK_THAT(message, Contains("variants[1].sett") && Contains("unknown key") && Contains("set"));
  }
  SECTION("a grid over a key that the base config lacks") {
    std::string message = load_error(folder.write("grid_typo", "grid: {optim.lrr: [0.1, 0.2]}\n"));
    CHECK_THAT(message,
               Contains("grid.optim.lrr") && Contains("does not exist") && Contains("base.yaml"));
  }
  SECTION("both variants and grid") {
    std::string message = load_error(
        folder.write("both", "variants:\n  - {name: a}\ngrid: {model.norm: [batch, none]}\n"));
    CHECK_THAT(message, Contains("either 'variants'") && Contains("not both"));
  }
  SECTION("neither variants nor grid") {
    std::string message = load_error(folder.write("neither", "set: {train.epochs: 2}\n"));
    CHECK_THAT(message, Contains("either 'variants'") && Contains("not neither"));
  }
  SECTION("duplicate variant names") {
    std::string message = load_error(
        folder.write("dup", "variants:\n  - {name: bn}\n  - {name: bn, set: {optim.lr: 0.1}}\n"));
    CHECK_THAT(message, Contains("variants[1]") && Contains("'bn' is used twice"));
  }
  SECTION("a variant whose config is invalid names the variant and the key") {
    std::string message = load_error(folder.write(
        "bad_norm", "variants:\n  - {name: good}\n  - {name: odd, set: {model.norm: batchy}}\n"));
    CHECK_THAT(message, Contains("variant 'odd'") && Contains("model.norm") && Contains("batchy"));
  }
  SECTION("a variant setting an unknown train key") {
    std::string message = load_error(
        folder.write("bad_key", "variants:\n  - {name: long, set: {train.epochz: 9}}\n"));
    CHECK_THAT(message, Contains("variant 'long'") && Contains("train.epochz"));
  }
  SECTION("a missing base file, resolved relative to the experiment file") {
    std::string path = folder.tmp / "experiments/lost.yaml";
    write_text(path, "base: models/base.yaml\nvariants:\n  - {name: a}\n");
    std::string message = load_error(path);
    CHECK_THAT(message, Contains("lost.yaml.base") && Contains("experiments/models/base.yaml"));
  }
  SECTION("an unknown top-level key, a missing base, an empty grid axis") {
    CHECK_THAT(load_error(folder.write("top", "variant:\n  - {name: a}\n")),
               Contains("variant: unknown key"));
    std::string no_base = folder.tmp / "experiments/no_base.yaml";
    write_text(no_base, "variants:\n  - {name: a}\n");
    CHECK_THAT(load_error(no_base), Contains("'base' is required"));
    CHECK_THAT(load_error(folder.write("empty_axis", "grid: {model.norm: []}\n")),
               Contains("grid.model.norm") && Contains("non-empty list"));
  }
  SECTION("a missing experiment file") {
    CHECK_THAT(load_error(folder.tmp / "experiments/nothing.yaml"),
               Contains("nothing.yaml") && Contains("cannot open"));
  }
}

TEST_CASE("experiment: the shipped experiment files load", "[apps][experiment]") {
  for (const auto& entry : fs::directory_iterator(CNNLAB_SOURCE_DIR "/configs/experiments")) {
    INFO(entry.path().string());
    Experiment experiment;
    CHECK_NOTHROW(experiment = load_experiment(entry.path().string()));
    CHECK_FALSE(experiment.variants.empty());
  }
}
