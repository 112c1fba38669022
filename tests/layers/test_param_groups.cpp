// Which parameters weight decay spares: ndim <= 1, and every parameter of a normalization
// module, found recursively (apps/model_setup.h hands these names to make_optimizer).
#include <catch2/catch.hpp>

#include "layers/param_groups.h"
#include "layers/sequential.h"

using namespace cnn;

namespace {
// A Module that only holds parameters: its type() and their shapes are the test's choice,
// so the weight-decay rule can be tested without the real layers.
class StubModule : public Module {
 public:
  StubModule(std::string type, std::vector<std::pair<std::string, Shape>> params,
             std::vector<std::pair<std::string, ModulePtr>> children = {})
      : type_(std::move(type)) {
    tensors_.reserve(params.size());  // register_parameter keeps pointers into it
    for (auto& [name, shape] : params) {
      tensors_.push_back(Tensor::zeros(shape));
      register_parameter(name, &tensors_.back());
    }
    for (auto& [name, child] : children) register_module(name, child);
  }
  Tensor forward(const Tensor& input) override { return input; }
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return type_; }

 private:
  std::string type_;
  std::vector<Tensor> tensors_;
};

using Params = std::vector<std::pair<std::string, Shape>>;
}  // namespace

TEST_CASE("no_decay_parameter_names spares biases and a layernorm's multi-dimensional weight",
          "[layers][param_groups]") {
  Sequential model;
  model.append(std::make_shared<StubModule>("linear", Params{{"weight", {4, 3}}, {"bias", {4}}}));
  model.append(
      std::make_shared<StubModule>("layernorm", Params{{"weight", {2, 2}}, {"bias", {2, 2}}}));
  model.append(std::make_shared<StubModule>("linear", Params{{"weight", {2, 4}}, {"bias", {2}}}));
  REQUIRE(no_decay_parameter_names(model) ==
          std::vector<std::string>{"0.bias", "1.weight", "1.bias", "2.bias"});
}

TEST_CASE("no_decay_parameter_names walks nested children and knows every norm type",
          "[layers][param_groups]") {
  auto body = std::make_shared<Sequential>();
  body->append(std::make_shared<StubModule>("conv2d", Params{{"weight", {8, 8, 3, 3}}}));
  body->append(std::make_shared<StubModule>("batchnorm2d", Params{{"weight", {8}}, {"bias", {8}}}));
  body->append(std::make_shared<StubModule>("instancenorm2d", Params{{"weight", {8, 1}}}));
  Sequential model;
  model.append(std::make_shared<StubModule>("conv2d", Params{{"weight", {8, 3, 3, 3}}}));
  model.append(
      std::make_shared<StubModule>("residual", Params{{"scale", {}}},
                                   std::vector<std::pair<std::string, ModulePtr>>{{"body", body}}));
  model.append(std::make_shared<StubModule>("groupnorm", Params{{"weight", {8, 1, 1}}}));
  model.append(std::make_shared<StubModule>("batchnorm1d", Params{{"weight", {8, 1}}}));
  model.append(std::make_shared<StubModule>("linear", Params{{"weight", {10, 8}}}));
  REQUIRE(no_decay_parameter_names(model) ==
          std::vector<std::string>{"1.scale", "1.body.1.weight", "1.body.1.bias", "1.body.2.weight",
                                   "2.weight", "3.weight"});
}

TEST_CASE("is_normalization_type knows the built-in norms and the registry's",
          "[layers][param_groups]") {
  for (const char* type :
       {"batchnorm1d", "batchnorm2d", "groupnorm", "layernorm", "instancenorm2d"})
    CHECK(is_normalization_type(type));
  CHECK_FALSE(is_normalization_type("conv2d"));
  CHECK_FALSE(is_normalization_type("norm"));  // decided by the model's norm key, at build time
}
