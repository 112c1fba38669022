// GroupNorm, LayerNorm and InstanceNorm2d (one fused kernel): gradients, the group-count
// clamp, parameter names and shapes, instance running statistics, errors, and PyTorch's
// values.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/groupnorm.h"
#include "layers/instancenorm.h"
#include "layers/layernorm.h"
#include "layers/registry.h"
#include "tests/gradcheck.h"

using namespace cnn;

namespace {

Tensor random_input(const Shape& shape, Generator& gen, float scale = 1.5f, float offset = 0.3f) {
  Tensor x = randn(shape, gen);
  float* p = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = p[i] * scale + offset;
  return x.set_requires_grad();
}

void randomise(Tensor& t, Generator& gen, float low, float high) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform(low, high);
}

Tensor fixture_tensor(const YAML::Node& node) {
  Shape shape;
  for (const auto& d : node["shape"]) shape.push_back(d.as<int64_t>());
  std::vector<float> data;
  for (const auto& v : node["data"]) data.push_back(v.as<float>());
  return Tensor::from_vector(shape, data);
}

// |a - b| <= 1e-6 + 1e-5 * |b| element-wise.
void require_close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  INFO(what);
  REQUIRE(actual.shape() == expected.shape());
  std::vector<float> a = actual.contiguous().to_vector(), e = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs PyTorch " << e[i]);
    REQUIRE(std::fabs(a[i] - e[i]) <= 1e-6 + 1e-5 * std::fabs(e[i]));
  }
}

// Loads a one_step fixture into the layer's weight/bias and checks y, dx, dweight, dbias.
void compare_one_step(Module& layer, Tensor& weight, Tensor& bias, const YAML::Node& f) {
  weight.copy_(fixture_tensor(f["weight"]));
  bias.copy_(fixture_tensor(f["bias"]));
  weight.zero_grad();
  bias.zero_grad();
  Tensor x = fixture_tensor(f["x"]).set_requires_grad();
  Tensor y = layer(x);
  y.backward(fixture_tensor(f["dy"]));
  require_close(y, fixture_tensor(f["y"]), "y");
  require_close(x.grad(), fixture_tensor(f["dx"]), "dx");
  require_close(weight.grad(), fixture_tensor(f["dweight"]), "dweight");
  require_close(bias.grad(), fixture_tensor(f["dbias"]), "dbias");
}

YAML::Node fixture(const std::string& name) {
  return YAML::LoadFile(std::string(CNNLAB_FIXTURES_DIR) + "/" + name);
}

ModulePtr build(const std::string& type, const std::string& yaml, const Shape& input) {
  BuildContext context;
  context.input_shape = input;
  Generator gen(0);
  context.generator = &gen;
  return find_layer(type)->make(
      LayerArgs(YAML::Load(yaml), "model.layers[0]." + type, find_layer(type)->keys), context);
}

}  // namespace

TEST_CASE("groupnorm backward matches finite differences for x, weight and bias",
          "[groupnorm][gradcheck]") {
  Generator gen(11);
  GroupNormOptions options;
  options.num_channels = 6;
  options.num_groups = 3;
  GroupNorm gn(options);
  randomise(gn.weight(), gen, 0.5f, 1.5f);
  randomise(gn.bias(), gen, -0.5f, 0.5f);
  auto f = [&](const std::vector<Tensor>& in) { return gn(in[0]); };
  cnn::testing::check_gradients("groupnorm [N,C,H,W]", f,
                                {random_input({2, 6, 2, 3}, gen), gn.weight(), gn.bias()});
  // Also on [N, C, L] and in eval mode (no difference). (Groups of only 2 values make
  // xhat = +-1, so steep that finite differences with step 1e-2 are not accurate.)
  gn.eval();
  cnn::testing::check_gradients("groupnorm [N,C,L]", f,
                                {random_input({3, 6, 2}, gen), gn.weight(), gn.bias()});
}

TEST_CASE("groupnorm normalises each sample's group to zero mean and unit variance",
          "[groupnorm]") {
  Generator gen(12);
  GroupNormOptions options;
  options.num_channels = 4;
  options.num_groups = 2;
  GroupNorm gn(options);
  Tensor x = random_input({2, 4, 3, 3}, gen, 0.5f, 500.0f);
  Tensor y = gn(x);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t g = 0; g < 2; ++g) {
      double s = 0, ss = 0;
      for (int64_t c = 2 * g; c < 2 * g + 2; ++c)
        for (int64_t i = 0; i < 9; ++i) {
          double v = y.at({n, c, i / 3, i % 3});
          s += v;
          ss += v * v;
        }
      REQUIRE(std::fabs(s / 18) < 1e-5);
      REQUIRE(ss / 18 == Approx(1.0).epsilon(1e-3));
    }
}

TEST_CASE("groupnorm lowers num_groups to the largest divisor of the channels and says so",
          "[groupnorm]") {
  REQUIRE(effective_num_groups(8, 32) == 8);
  REQUIRE(effective_num_groups(48, 32) == 24);
  REQUIRE(effective_num_groups(64, 32) == 32);
  REQUIRE(effective_num_groups(6, 4) == 3);
  REQUIRE(effective_num_groups(7, 4) == 1);
  REQUIRE(effective_num_groups(3, 1) == 1);
  auto gn = std::dynamic_pointer_cast<GroupNorm>(build("groupnorm", "{}", {1, 48, 4, 4}));
  REQUIRE(gn->num_groups() == 24);
  REQUIRE(gn->options().num_groups == 32);
  REQUIRE_THAT(gn->describe(), Catch::Contains("24 groups") && Catch::Contains("lowered"));
  gn = std::dynamic_pointer_cast<GroupNorm>(build("groupnorm", "{num_groups: 4}", {1, 8, 4, 4}));
  REQUIRE(gn->num_groups() == 4);
  REQUIRE_THAT(gn->describe(), !Catch::Contains("lowered"));
  REQUIRE_THROWS_WITH(build("groupnorm", "{num_groups: 0}", {1, 8, 4, 4}),
                      Catch::Contains("model.layers[0].groupnorm.num_groups"));
  REQUIRE_THROWS_WITH(gn->forward(random_input({2, 6, 2, 2}, *std::make_unique<Generator>(1))),
                      Catch::Contains("8 channels") && Catch::Contains("[2, 6, 2, 2]"));
  // Parameters as torch.nn.GroupNorm: weight and bias [C], no buffers.
  std::vector<NamedTensor> state = gn->state_dict();
  REQUIRE(state.size() == 2);
  REQUIRE(state[0].first == "weight");
  REQUIRE(state[0].second.shape() == Shape{8});
  REQUIRE(find_layer("groupnorm")->is_normalization);
}

TEST_CASE("groupnorm matches PyTorch", "[groupnorm][pytorch]") {
  YAML::Node f = fixture("groupnorm_case.json");
  GroupNormOptions options;
  options.num_channels = 6;
  options.num_groups = f["num_groups"].as<int64_t>();
  GroupNorm gn(options);
  compare_one_step(gn, gn.weight(), gn.bias(), f);
}

TEST_CASE("layernorm backward matches finite differences for x and its [C,H,W] affine",
          "[layernorm][gradcheck]") {
  Generator gen(13);
  LayerNormOptions options;
  options.normalized_shape = {2, 2, 3};
  LayerNorm ln(options);
  randomise(ln.weight(), gen, 0.5f, 1.5f);
  randomise(ln.bias(), gen, -0.5f, 0.5f);
  cnn::testing::check_gradients("layernorm",
                                [&](const std::vector<Tensor>& in) { return ln(in[0]); },
                                {random_input({3, 2, 2, 3}, gen), ln.weight(), ln.bias()});
  // Features [N, F] (layernorm after a linear layer).
  options.normalized_shape = {5};
  LayerNorm dense(options);
  randomise(dense.weight(), gen, 0.5f, 1.5f);
  cnn::testing::check_gradients("layernorm [N,F]",
                                [&](const std::vector<Tensor>& in) { return dense(in[0]); },
                                {random_input({2, 5}, gen), dense.weight(), dense.bias()});
}

TEST_CASE("layernorm: PyTorch's parameter shapes, keys, errors", "[layernorm]") {
  auto ln = std::dynamic_pointer_cast<LayerNorm>(build("layernorm", "{}", {1, 4, 3, 3}));
  REQUIRE(ln->weight().shape() == Shape{4, 3, 3});
  REQUIRE(ln->bias().shape() == Shape{4, 3, 3});
  REQUIRE(ln->state_dict().size() == 2);
  REQUIRE(ln->output_shape({7, 4, 3, 3}) == Shape{7, 4, 3, 3});
  REQUIRE_THROWS_WITH(ln->output_shape({7, 4, 5, 5}),
                      Catch::Contains("[4, 3, 3]") && Catch::Contains("[7, 4, 5, 5]"));
  ln = std::dynamic_pointer_cast<LayerNorm>(
      build("layernorm", "{elementwise_affine: false, eps: 0.001}", {1, 10}));
  REQUIRE(ln->named_parameters().empty());
  REQUIRE(ln->options().eps == 0.001f);
  // Without affine: each sample normalised to mean 0.
  Tensor y = ln->forward(Tensor::from_vector({1, 10}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  REQUIRE(y.at({0, 0}) == Approx(-4.5 / std::sqrt(8.25 + 1e-3)));
  REQUIRE(find_layer("layernorm")->is_normalization);
}

TEST_CASE("layernorm matches PyTorch", "[layernorm][pytorch]") {
  YAML::Node f = fixture("layernorm_case.json");
  LayerNormOptions options;
  options.normalized_shape = {3, 3, 3};
  LayerNorm ln(options);
  compare_one_step(ln, ln.weight(), ln.bias(), f);
}

TEST_CASE("instancenorm2d backward matches finite differences (training and eval)",
          "[instancenorm][gradcheck]") {
  Generator gen(14);
  InstanceNormOptions options;
  options.num_features = 3;
  options.affine = true;
  options.track_running_stats = true;
  InstanceNorm2d in(options);
  randomise(in.weight(), gen, 0.5f, 1.5f);
  randomise(in.bias(), gen, -0.5f, 0.5f);
  auto f = [&](const std::vector<Tensor>& inputs) { return in(inputs[0]); };
  cnn::testing::check_gradients("instancenorm2d train", f,
                                {random_input({2, 3, 2, 3}, gen), in.weight(), in.bias()});
  // Eval with running statistics is a per-channel affine.
  in.eval();
  cnn::testing::check_gradients("instancenorm2d eval", f,
                                {random_input({2, 3, 2, 3}, gen), in.weight(), in.bias()});
}

TEST_CASE("instancenorm2d defaults as PyTorch: no affine, no running statistics",
          "[instancenorm]") {
  Generator gen(15);
  auto in = std::dynamic_pointer_cast<InstanceNorm2d>(build("instancenorm2d", "{}", {1, 3, 4, 4}));
  REQUIRE(in->state_dict().empty());
  Tensor x = random_input({2, 3, 2, 2}, gen, 1.0f, 5.0f);
  Tensor y_train = in->forward(x);
  in->eval();
  REQUIRE(in->forward(x).to_vector() == y_train.to_vector());  // instance statistics in eval too
  // Each (sample, channel) normalised over its 4 values.
  double s = 0;
  for (int64_t i = 0; i < 4; ++i) s += y_train.at({1, 2, i / 2, i % 2});
  REQUIRE(std::fabs(s) < 1e-5);
  REQUIRE_THROWS_WITH(
      in->forward(random_input({2, 3, 1, 1}, gen)),
      Catch::Contains("more than 1 spatial element") && Catch::Contains("[2, 3, 1, 1]"));
  REQUIRE_THROWS_WITH(in->output_shape({2, 3}), Catch::Contains("[N, 3, H, W]"));
  auto tracked = std::dynamic_pointer_cast<InstanceNorm2d>(
      build("instancenorm2d", "{affine: true, track_running_stats: true}", {1, 3, 4, 4}));
  std::vector<std::string> names;
  for (const auto& [name, t] : tracked->state_dict()) names.push_back(name);
  REQUIRE(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                            "num_batches_tracked"});
  REQUIRE_THROWS_WITH(
      build("instancenorm2d", "{track_running_stats: true, momentum: null}", {1, 3, 4, 4}),
      Catch::Contains("model.layers[0].instancenorm2d.momentum"));
  REQUIRE(find_layer("instancenorm2d")->is_normalization);
}

TEST_CASE("instancenorm2d matches PyTorch, running statistics and eval included",
          "[instancenorm][pytorch]") {
  YAML::Node f = fixture("instancenorm_case.json");
  InstanceNormOptions options;
  options.num_features = 3;
  options.affine = true;
  options.track_running_stats = true;
  InstanceNorm2d in(options);
  compare_one_step(in, in.weight(), in.bias(), f);
  require_close(in.running_mean(), fixture_tensor(f["running_mean"]), "running_mean");
  require_close(in.running_var(), fixture_tensor(f["running_var"]), "running_var");
  in.eval();
  NoGradGuard no_grad;
  require_close(in(fixture_tensor(f["eval_x"])), fixture_tensor(f["eval_y"]), "eval y");
}

TEST_CASE("groupnorm matches a reference composed of core ops on a larger (threaded) input",
          "[groupnorm][reference]") {
  Generator gen(16);
  GroupNormOptions options;
  options.num_channels = 12;
  options.num_groups = 4;
  GroupNorm gn(options);
  randomise(gn.weight(), gen, 0.5f, 1.5f);
  randomise(gn.bias(), gen, -0.5f, 0.5f);
  Tensor x = random_input({8, 12, 14, 14}, gen, 2.0f, -1.0f);
  Tensor dy = randn({8, 12, 14, 14}, gen);
  gn(x).backward(dy);

  Tensor xr = x.detach().clone().set_requires_grad();
  Tensor wr = gn.weight().detach().clone().set_requires_grad();
  Tensor br = gn.bias().detach().clone().set_requires_grad();
  Tensor grouped = reshape(xr, {8, 4, 3 * 14 * 14});
  Tensor centred = grouped - mean(grouped, {2}, true);
  Tensor var = mean(centred * centred, {2}, true);
  Tensor xhat = reshape(centred / sqrt(var + 1e-5f), {8, 12, 14, 14});
  Tensor y = xhat * reshape(wr, {1, 12, 1, 1}) + reshape(br, {1, 12, 1, 1});
  y.backward(dy);
  auto close = [](const Tensor& a, const Tensor& b, const char* what) {
    INFO(what);
    std::vector<float> va = a.to_vector(), vb = b.to_vector();
    REQUIRE(va.size() == vb.size());
    for (size_t i = 0; i < va.size(); ++i)
      REQUIRE(va[i] == Approx(vb[i]).margin(1e-4).epsilon(1e-3));
  };
  close(x.grad(), xr.grad(), "dx");
  close(gn.weight().grad(), wr.grad(), "dweight");
  close(gn.bias().grad(), br.grad(), "dbias");

  // LayerNorm on the same input: one group, per-element affine (its parameters are 1 and 0).
  LayerNormOptions ln_options;
  ln_options.normalized_shape = {12, 14, 14};
  LayerNorm ln(ln_options);
  Tensor x2 = x.detach().clone().set_requires_grad();
  ln(x2).backward(dy);
  Tensor x3 = x.detach().clone().set_requires_grad();
  Tensor flat = reshape(x3, {8, 12 * 14 * 14});
  Tensor c2 = flat - mean(flat, {1}, true);
  Tensor y3 = c2 / sqrt(mean(c2 * c2, {1}, true) + 1e-5f);
  reshape(y3, {8, 12, 14, 14}).backward(dy);
  close(x2.grad(), x3.grad(), "layernorm dx");
  close(ln.weight().grad(), sum(dy * reshape(y3, {8, 12, 14, 14}).detach(), {0}),
        "layernorm dweight");
  close(ln.bias().grad(), sum(dy, {0}), "layernorm dbias");
}
