// The fusion passes (layers/fusion.h): state-dict names and order unchanged, load_state_dict
// on a fused model, a fused model's training forward and backward bit for bit the unfused
// one's, its evaluation the layers' result, a user-defined layer absorbing a ReLU through
// the module hooks, and the observer refusing a fused model.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/activations.h"
#include "layers/builder.h"
#include "layers/fold_batchnorm.h"
#include "layers/fusion.h"
#include "layers/sequential.h"
#include "tests/layers/tensor_compare.h"

using namespace cnn;

namespace {

// conv+BN+relu (+pool), a basic block with an identity shortcut, one with a projection,
// a conv+identity+relu (norm: none style) and the classifier.
const char* kNet = R"(
norm: batch
layers:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - norm: {}
  - relu: {}
  - residual:
      body:
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
        - norm: {}
  - conv2d: {out_channels: 12, kernel_size: 3, padding: 1}
  - identity: {}
  - relu: {}
  - maxpool2d: {kernel_size: 2}
  - residual:
      body:
        - conv2d: {out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
        - norm: {}
  - global_avgpool2d: {}
  - flatten: {}
  - linear: {out_features: 10}
)";

std::shared_ptr<Sequential> build_net(uint64_t seed) {
  Generator gen(seed);
  return build_model(YAML::Load(kNet), {1, 3, 16, 16}, gen);
}

std::vector<std::string> names_of(const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) names.push_back(name);
  return names;
}

// One training step's output and every gradient (input and parameters, in order), the
// running statistics after it.
std::vector<std::vector<float>> training_step(Sequential& model, const Tensor& input,
                                              const Tensor& grad_output) {
  model.train();
  Tensor x = input.detach().clone().set_requires_grad();
  Tensor y = model.forward(x);
  y.backward(grad_output);
  std::vector<std::vector<float>> out{y.to_vector(), x.grad().to_vector()};
  for (const auto& [name, parameter] : model.named_parameters())
    out.push_back(parameter.grad().to_vector());
  for (const auto& [name, buffer] : model.named_buffers())
    if (buffer.dtype() == DType::Float32) out.push_back(buffer.to_vector());
  return out;
}

}  // namespace

TEST_CASE("fusion passes keep the state-dict names and order, and load_state_dict works",
          "[fusion][state]") {
  auto model = build_net(1);
  const auto names = names_of(model->state_dict());
  const auto parameters = names_of(model->named_parameters());
  REQUIRE(std::find(names.begin(), names.end(), "3.body.1.running_mean") != names.end());
  for (int pass = 0; pass < 3; ++pass) {
    INFO("pass " << pass);
    const int fused = pass == 0   ? fuse_for_training(*model)
                      : pass == 1 ? fuse_for_evaluation(*model)
                                  : (unfuse(*model), 0);
    REQUIRE(fused == (pass == 0 ? 4 : pass == 1 ? 6 : 0));
    REQUIRE(model->fused() == (pass < 2));
    REQUIRE(names_of(model->state_dict()) == names);
    REQUIRE(names_of(model->named_parameters()) == parameters);
    REQUIRE(model->size() == 12);  // the children stay
  }

  // Weights loaded into a fused model reach its steps: the same output as an unfused model
  // loaded with them.
  auto source = build_net(2);
  auto fused = build_net(3), plain = build_net(4);
  fuse_for_evaluation(*fused);
  fused->load_state_dict(source->state_dict());
  plain->load_state_dict(source->state_dict());
  fused->eval();
  plain->eval();
  Generator gen(5);
  Tensor x = randn({2, 3, 16, 16}, gen);
  REQUIRE(fused->forward(x).to_vector() == plain->forward(x).to_vector());
}

TEST_CASE("a fused model trains bit for bit as the unfused one", "[fusion][grad]") {
  // The evaluation pass, as a training run applies it: under the tape its evaluation-only
  // steps run the training ops.
  for (bool evaluation_pass : {false, true}) {
    INFO((evaluation_pass ? "fuse_for_evaluation" : "fuse_for_training"));
    auto fused = build_net(7), plain = build_net(7);
    REQUIRE((evaluation_pass ? fuse_for_evaluation(*fused) : fuse_for_training(*fused)) > 0);
    Generator gen(8);
    Tensor x = randn({4, 3, 16, 16}, gen);
    Tensor gy = randn({4, 10}, gen);
    for (int step = 0; step < 2; ++step) {  // the second with the updated running statistics
      const auto a = training_step(*fused, x, gy), b = training_step(*plain, x, gy);
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        INFO("tensor " << i);
        REQUIRE(a[i] == b[i]);
      }
    }
    // Evaluation with the tape off: the fused kernels, the layers' result (image by image
    // and Winograd epilogues: the same arithmetic, so exact here too).
    fused->eval();
    plain->eval();
    NoGradGuard no_grad;
    const Tensor y_fused = fused->forward(x), y_plain = plain->forward(x);
    cnn::testing::require_close("evaluation", y_fused, y_plain, 1e-5, 1e-5);
  }
}

TEST_CASE("BN folding then the evaluation pass: the folded model's result",
          "[fusion][fold_batchnorm]") {
  auto model = build_net(11);
  fuse_for_evaluation(*model);
  Generator gen(12);
  Tensor x = randn({3, 3, 16, 16}, gen);
  {
    NoGradGuard no_grad;
    model->train();
    for (int step = 0; step < 2; ++step) model->forward(randn({4, 3, 16, 16}, gen));
  }
  model->eval();
  fold_batchnorm(*model);
  REQUIRE_FALSE(model->fused());
  NoGradGuard no_grad;
  const Tensor folded = model->forward(x);
  // conv+relu (the folded BN an identity between), conv+relu+pool, two blocks (image by
  // image), two body conv+relu steps.
  REQUIRE(fuse_for_evaluation(*model) == 6);
  cnn::testing::require_close("folded and fused", model->forward(x), folded, 1e-5, 1e-5);
}

namespace {

// A user-defined layer: y = 2x, which can apply a following ReLU as it writes (and counts
// how often the pass's step asked it to).
class Doubling : public Module {
 public:
  Tensor forward(const Tensor& input) override { return mul_scalar(input, 2.0f); }
  bool absorbs_relu() const override { return true; }
  Tensor forward_relu(const Tensor& input) override {
    ++fused_calls;
    return relu(mul_scalar(input, 2.0f));
  }
  Shape output_shape(const Shape& input) const override { return input; }
  std::string type() const override { return "doubling"; }
  int fused_calls = 0;
};

}  // namespace

TEST_CASE("a user-defined layer that absorbs_relu() takes the relu after it", "[fusion]") {
  auto doubling = std::make_shared<Doubling>();
  Sequential model;
  model.append(doubling);
  model.append(std::make_shared<Activation>(Activation::Kind::ReLU));
  model.append(std::make_shared<Activation>(Activation::Kind::Tanh));
  Generator gen(13);
  Tensor x = randn({2, 5}, gen);
  const std::vector<float> separate = model.forward(x).to_vector();
  REQUIRE(doubling->fused_calls == 0);
  REQUIRE(fuse_for_training(model) == 1);
  REQUIRE(model.steps().size() == 2);  // doubling+relu, tanh
  REQUIRE(model.forward(x).to_vector() == separate);
  REQUIRE(doubling->fused_calls == 1);
}

TEST_CASE("the observer wants an unfused model", "[fusion][errors]") {
  auto model = build_net(14);
  fuse_for_training(*model);
  auto observer = [](const std::string&, const Module&, const Tensor&) {};
  REQUIRE_THROWS_WITH(model->set_observer(observer),
                      Catch::Contains("fused") && Catch::Contains("unfuse it first"));
  unfuse(*model);
  model->set_observer(observer);
  REQUIRE_THROWS_WITH(fuse_for_training(*model), Catch::Contains("observer"));
  model->set_observer(nullptr);
  REQUIRE(fuse_for_training(*model) == 4);
}
