// BN folding: conv -> eval BN pairs merged into the conv (nested residual blocks included)
// give the same outputs; training mode is refused; other norms are left alone.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "core/autograd.h"
#include "core/random.h"
#include "layers/batchnorm.h"
#include "layers/builder.h"
#include "layers/conv2d.h"
#include "layers/fold_batchnorm.h"
#include "layers/fusion.h"
#include "layers/residual.h"

using namespace cnn;

namespace {

std::shared_ptr<Sequential> build(const std::string& yaml, Generator& gen) {
  return build_model(YAML::Load(yaml), {1, 3, 8, 8}, gen);
}

// Gives every BN non-trivial affine parameters and running statistics (a few training
// batches), then switches the model to eval.
void prepare(Module& model, Generator& gen) {
  {
    NoGradGuard no_grad;
    for (auto& [name, tensor] : model.named_parameters())
      if (name.find("weight") != std::string::npos && tensor.dim() == 1)
        for (int64_t i = 0; i < tensor.numel(); ++i) tensor.data()[i] = gen.uniform(0.5f, 1.5f);
      else if (tensor.dim() == 1)
        for (int64_t i = 0; i < tensor.numel(); ++i) tensor.data()[i] = gen.uniform(-0.5f, 0.5f);
    model.train();
    for (int step = 0; step < 3; ++step) model(randn({4, 3, 8, 8}, gen));
  }
  model.eval();
}

int count_type(const Module& module, const std::string& type) {
  int count = 0;
  for (const auto& [name, child] : module.children()) {
    count += child->type() == type;
    count += count_type(*child, type);
  }
  return count;
}

float max_abs_difference(const Tensor& a, const Tensor& b) {
  std::vector<float> va = a.to_vector(), vb = b.to_vector();
  REQUIRE(va.size() == vb.size());
  float worst = 0.0f;
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(va[i] - vb[i]));
  return worst;
}

const char* kResidualNet = R"(
norm: batch
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - norm: {}
  - relu: {}
  - residual:
      body:
        - conv2d: {out_channels: 6, kernel_size: 3, padding: 1, stride: 2}
        - norm: {}
        - relu: {}
        - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}
        - norm: {}
      shortcut: auto
  - conv2d: {out_channels: 5, kernel_size: 1, bias: true}
  - batchnorm2d: {affine: false}
  - conv2d: {out_channels: 5, kernel_size: 1}
  - batchnorm2d: {track_running_stats: false}
)";

}  // namespace

TEST_CASE("fold_batchnorm merges conv+BN pairs, nested ones too, and keeps the outputs",
          "[fold_batchnorm]") {
  Generator gen(21);
  auto model = build(kResidualNet, gen);
  fuse_for_evaluation(*model);  // as a training run fuses it: folding drops the fused steps
  prepare(*model, gen);
  REQUIRE(count_type(*model, "batchnorm2d") == 6);
  Tensor x = randn({2, 3, 8, 8}, gen);
  Tensor before, after;
  {
    NoGradGuard no_grad;
    before = (*model)(x).clone();
  }
  REQUIRE(model->at(0)->named_parameters().size() == 1);  // bias: auto dropped the bias

  // Top level 2, residual body 2, its 1x1 shortcut 1; the BN without running statistics
  // (batch statistics even in eval) stays.
  REQUIRE(fold_batchnorm(*model) == 5);
  REQUIRE_FALSE(model->fused());
  REQUIRE(count_type(*model, "batchnorm2d") == 1);
  REQUIRE(model->at(1)->type() == "identity");
  REQUIRE(model->at(5)->type() == "identity");
  REQUIRE(model->at(7)->type() == "batchnorm2d");
  auto& residual = dynamic_cast<Residual&>(*model->at(3));
  REQUIRE(residual.shortcut() != nullptr);
  REQUIRE(count_type(residual, "identity") == 3);
  // The folded conv gained a bias, saved under PyTorch's name.
  auto conv = std::dynamic_pointer_cast<Conv2d>(model->at(0));
  REQUIRE(conv->bias().defined());
  REQUIRE(conv->bias().requires_grad());
  bool has_bias = false;
  for (const auto& [name, tensor] : model->state_dict()) has_bias = has_bias || name == "0.bias";
  REQUIRE(has_bias);
  {
    NoGradGuard no_grad;
    after = (*model)(x);
  }
  REQUIRE(max_abs_difference(before, after) < 1e-4f);
  // Fused again for evaluation (the folded convs take the ReLUs, the block its sum): the
  // folded model's own result, and the same state-dict names.
  std::vector<std::string> names;
  for (const auto& [name, tensor] : model->state_dict()) names.push_back(name);
  REQUIRE(fuse_for_evaluation(*model) == 3);  // conv+relu, the residual block, its body's conv+relu
  std::vector<std::string> fused_names;
  for (const auto& [name, tensor] : model->state_dict()) fused_names.push_back(name);
  REQUIRE(fused_names == names);
  {
    NoGradGuard no_grad;
    REQUIRE(max_abs_difference((*model)(x), after) < 1e-5f);
  }
  // A second fold finds nothing left to do.
  REQUIRE(fold_batchnorm(*model) == 0);
}

TEST_CASE("fold_batchnorm refuses a model in training mode and skips other pairs",
          "[fold_batchnorm][errors]") {
  Generator gen(22);
  auto model = build(kResidualNet, gen);
  model->train();
  REQUIRE_THROWS_WITH(fold_batchnorm(*model),
                      Catch::Contains("training mode") && Catch::Contains("eval()"));
  REQUIRE(count_type(*model, "batchnorm2d") == 6);

  // Group norm, a BN after a relu, and a BN not preceded by a conv are not folded.
  auto other = build(R"(
norm: group
layers:
  - conv2d: {out_channels: 4, kernel_size: 3}
  - norm: {}
  - relu: {}
  - batchnorm2d: {}
)",
                     gen);
  prepare(*other, gen);
  REQUIRE(fold_batchnorm(*other) == 0);
  REQUIRE(other->at(3)->type() == "batchnorm2d");
}

TEST_CASE("fold_batchnorm folds a frozen BN inside an eval model", "[fold_batchnorm]") {
  Generator gen(23);
  auto model = build(R"(
norm: batch
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, groups: 1, bias: true}
  - norm: {frozen: true}
)",
                     gen);
  auto bn = std::dynamic_pointer_cast<BatchNorm2d>(model->at(1));
  bn->running_mean().copy_(Tensor::from_vector({4}, {0.1f, -0.2f, 0.3f, 0.5f}));
  bn->running_var().copy_(Tensor::from_vector({4}, {0.5f, 2.0f, 1.0f, 3.0f}));
  model->eval();
  Tensor x = randn({2, 3, 8, 8}, gen);
  Tensor before = (*model)(x).detach().clone();
  REQUIRE(fold_batchnorm(*model) == 1);
  REQUIRE(max_abs_difference(before, (*model)(x)) < 1e-4f);
}
