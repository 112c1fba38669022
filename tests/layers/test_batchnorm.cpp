// BatchNorm2d / BatchNorm1d: gradients (training and eval), running statistics by hand
// (momentum 0.1 with the unbiased variance, and the cumulative average), frozen,
// the one-value-per-channel error, the options, the YAML keys, and PyTorch's values.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "core/autograd.h"
#include "core/collective.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/batchnorm.h"
#include "layers/registry.h"
#include "tests/gradcheck.h"

using namespace cnn;

namespace {

BatchNormOptions channels(int64_t c) {
  BatchNormOptions options;
  options.num_features = c;
  return options;
}

// Non-trivial affine parameters, so a gradient that ignores gamma fails.
void randomise_affine(BatchNorm& bn, Generator& gen) {
  NoGradGuard no_grad;
  float* w = bn.weight().data();
  float* b = bn.bias().data();
  for (int64_t i = 0; i < bn.weight().numel(); ++i) {
    w[i] = gen.uniform(0.5f, 1.5f);
    b[i] = gen.uniform(-0.5f, 0.5f);
  }
}

Tensor random_input(const Shape& shape, Generator& gen, float scale = 1.5f, float offset = 0.3f) {
  Tensor x = randn(shape, gen);
  float* p = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = p[i] * scale + offset;
  return x.set_requires_grad();
}

// A tensor from a fixture entry {"shape": [...], "data": [...]}.
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

ModulePtr build(const std::string& type, const std::string& yaml, const Shape& input) {
  BuildContext context;
  context.input_shape = input;
  Generator gen(0);
  context.generator = &gen;
  return find_layer(type)->make(
      LayerArgs(YAML::Load(yaml), "model.layers[0]." + type, find_layer(type)->keys), context);
}

}  // namespace

TEST_CASE("batchnorm2d training backward matches finite differences for x, weight and bias",
          "[batchnorm][gradcheck]") {
  Generator gen(1);
  BatchNorm2d bn(channels(3));
  randomise_affine(bn, gen);
  Tensor x = random_input({3, 3, 2, 3}, gen);
  cnn::testing::check_gradients("batchnorm2d train",
                                [&](const std::vector<Tensor>& in) { return bn(in[0]); },
                                {x, bn.weight(), bn.bias()});
}

TEST_CASE("batchnorm1d training backward matches finite differences on [N,C] and [N,C,L]",
          "[batchnorm][gradcheck]") {
  Generator gen(2);
  BatchNorm1d bn(channels(4));
  randomise_affine(bn, gen);
  auto f = [&](const std::vector<Tensor>& in) { return bn(in[0]); };
  cnn::testing::check_gradients("batchnorm1d [N,C]", f,
                                {random_input({5, 4}, gen), bn.weight(), bn.bias()});
  cnn::testing::check_gradients("batchnorm1d [N,C,L]", f,
                                {random_input({3, 4, 3}, gen), bn.weight(), bn.bias()});
}

TEST_CASE("batchnorm2d eval backward (a per-channel affine) matches finite differences",
          "[batchnorm][gradcheck]") {
  Generator gen(3);
  BatchNorm2d bn(channels(3));
  randomise_affine(bn, gen);
  bn.running_mean().copy_(Tensor::from_vector({3}, {0.5f, -1.0f, 2.0f}));
  bn.running_var().copy_(Tensor::from_vector({3}, {0.7f, 2.0f, 1.3f}));
  bn.eval();
  Tensor x = random_input({2, 3, 2, 2}, gen);
  cnn::testing::check_gradients("batchnorm2d eval",
                                [&](const std::vector<Tensor>& in) { return bn(in[0]); },
                                {x, bn.weight(), bn.bias()});
  // Eval leaves the running statistics alone.
  REQUIRE(bn.running_mean().to_vector() == std::vector<float>{0.5f, -1.0f, 2.0f});
  REQUIRE(bn.num_batches_tracked().data_i64()[0] == 0);
}

TEST_CASE("batchnorm training output has zero mean and unit variance per channel", "[batchnorm]") {
  Generator gen(4);
  BatchNorm2d bn(channels(2));
  // Far from zero: the statistics must not cancel in float.
  Tensor x = random_input({4, 2, 3, 3}, gen, 0.01f, 1000.0f);
  Tensor y = bn(x);
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0, ss = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 9; ++i) {
        double v = y.at({n, c, i / 3, i % 3});
        s += v;
        ss += v * v;
      }
    double mean = s / 36, var = ss / 36 - mean * mean;
    REQUIRE(std::fabs(mean) < 1e-4);
    // var/(var + eps) with var = 1e-4: eps matters at this scale, as in PyTorch.
    REQUIRE(var == Approx(1.0).epsilon(0.15));
  }
}

TEST_CASE("batchnorm running statistics: momentum 0.1 with the unbiased batch variance",
          "[batchnorm][running]") {
  BatchNorm2d bn(channels(2));
  // Channel 0 holds 1, 2, 3, 4 and channel 1 holds 10, 10, 14, 14 (N=2, H=1, W=2).
  Tensor x = Tensor::from_vector({2, 2, 1, 2}, {1, 2, 10, 10, 3, 4, 14, 14});
  bn(x);
  // mean 2.5 and 12; biased var 1.25 and 4, unbiased (m=4) 5/3 and 16/3.
  std::vector<float> rm = bn.running_mean().to_vector(), rv = bn.running_var().to_vector();
  REQUIRE(rm[0] == Approx(0.1 * 2.5));
  REQUIRE(rm[1] == Approx(0.1 * 12));
  REQUIRE(rv[0] == Approx(0.9 + 0.1 * 5.0 / 3.0));
  REQUIRE(rv[1] == Approx(0.9 + 0.1 * 16.0 / 3.0));
  REQUIRE(bn.num_batches_tracked().data_i64()[0] == 1);
  bn(x);
  REQUIRE(bn.running_mean().to_vector()[0] == Approx(0.9 * 0.25 + 0.1 * 2.5));
  REQUIRE(bn.running_var().to_vector()[1] ==
          Approx(0.9 * (0.9 + 0.1 * 16.0 / 3.0) + 0.1 * 16.0 / 3.0));
  REQUIRE(bn.num_batches_tracked().data_i64()[0] == 2);
  // Training normalises with the batch's biased variance: (1 - 2.5)/sqrt(1.25 + eps).
  Tensor y = bn(x);
  REQUIRE(y.at({0, 0, 0, 0}) == Approx(-1.5 / std::sqrt(1.25 + 1e-5)));
}

TEST_CASE("batchnorm momentum null is the cumulative average over batches",
          "[batchnorm][running]") {
  BatchNormOptions options = channels(1);
  options.momentum.reset();
  BatchNorm1d bn(options);
  bn(Tensor::from_vector({2, 1}, {1, 3}));  // mean 2, unbiased var 2
  REQUIRE(bn.running_mean().item() == Approx(2.0));
  REQUIRE(bn.running_var().item() == Approx(2.0));  // factor 1/1 replaces the initial 1
  bn(Tensor::from_vector({2, 1}, {5, 9}));          // mean 7, unbiased var 8
  REQUIRE(bn.running_mean().item() == Approx(4.5));
  REQUIRE(bn.running_var().item() == Approx(5.0));
  bn(Tensor::from_vector({2, 1}, {0, 0}));  // mean 0, var 0
  REQUIRE(bn.running_mean().item() == Approx(3.0));
  REQUIRE(bn.running_var().item() == Approx(10.0 / 3.0));
  REQUIRE(bn.num_batches_tracked().data_i64()[0] == 3);
  REQUIRE_THAT(bn.describe(), Catch::Contains("cumulative"));
}

TEST_CASE("a frozen batchnorm uses and keeps its running statistics in training mode",
          "[batchnorm][frozen]") {
  Generator gen(5);
  BatchNormOptions options = channels(3);
  options.frozen = true;
  BatchNorm2d bn(options);
  randomise_affine(bn, gen);
  bn.running_mean().copy_(Tensor::from_vector({3}, {0.2f, -0.3f, 1.0f}));
  bn.running_var().copy_(Tensor::from_vector({3}, {1.5f, 0.5f, 2.0f}));
  bn.train();  // a later train() does not unfreeze
  REQUIRE(bn.training());
  REQUIRE_FALSE(bn.uses_batch_statistics());
  Tensor x = random_input({2, 3, 2, 2}, gen);
  Tensor y = bn(x);
  REQUIRE(bn.running_mean().to_vector() == std::vector<float>{0.2f, -0.3f, 1.0f});
  REQUIRE(bn.running_var().to_vector() == std::vector<float>{1.5f, 0.5f, 2.0f});
  REQUIRE(bn.num_batches_tracked().data_i64()[0] == 0);
  bn.eval();
  Tensor y_eval = bn(x);
  REQUIRE(y.to_vector() == y_eval.to_vector());
  // The affine parameters still train; even batch 1 on a 1x1 map works (no batch stats).
  bn.train();
  sum(bn(x)).backward();
  REQUIRE(bn.weight().grad().defined());
  REQUIRE(bn.bias().grad().to_vector() == std::vector<float>{8, 8, 8});
  REQUIRE_NOTHROW(bn(random_input({1, 3, 1, 1}, gen)));
  REQUIRE_THAT(bn.describe(), Catch::Contains("frozen"));
}

TEST_CASE("batchnorm with one value per channel in training is an error, not NaNs",
          "[batchnorm][errors]") {
  Generator gen(6);
  BatchNorm2d bn(channels(8));
  Tensor x = random_input({1, 8, 1, 1}, gen);
  REQUIRE_THROWS_WITH(bn(x), Catch::Contains("Expected more than 1 value per channel when "
                                             "training, got input size [1, 8, 1, 1]") &&
                                 Catch::Contains("batchnorm2d"));
  // Nothing was updated by the failed call.
  REQUIRE(bn.num_batches_tracked().data_i64()[0] == 0);
  REQUIRE(bn.running_var().to_vector() == std::vector<float>(8, 1.0f));
  bn.eval();
  REQUIRE_NOTHROW(bn(x));
  // Batch 1 with a spatial map is fine: H*W values per channel.
  bn.train();
  REQUIRE_NOTHROW(bn(random_input({1, 8, 2, 1}, gen)));
  BatchNorm1d bn1(channels(8));
  REQUIRE_THROWS_WITH(bn1(random_input({1, 8}, gen)), Catch::Contains("[1, 8]"));
}

TEST_CASE("batchnorm rejects a wrong channel count or rank naming the shapes",
          "[batchnorm][errors]") {
  Generator gen(7);
  BatchNorm2d bn(channels(8));
  REQUIRE_THROWS_WITH(bn(random_input({2, 3, 4, 4}, gen)),
                      Catch::Contains("8 channels") && Catch::Contains("[2, 3, 4, 4]"));
  REQUIRE_THROWS_WITH(bn.output_shape({2, 8}), Catch::Contains("batchnorm1d"));
  BatchNorm1d bn1(channels(8));
  REQUIRE_THROWS_WITH(bn1.output_shape({2, 8, 4, 4}), Catch::Contains("[2, 8, 4, 4]"));
  REQUIRE(bn1.output_shape({2, 8, 5}) == Shape{2, 8, 5});
}

TEST_CASE("batchnorm without running statistics uses batch statistics in eval too",
          "[batchnorm][options]") {
  Generator gen(8);
  BatchNormOptions options = channels(2);
  options.track_running_stats = false;
  BatchNorm2d bn(options);
  // No buffers, as PyTorch (state_dict holds only weight and bias).
  std::vector<NamedTensor> state = bn.state_dict();
  REQUIRE(state.size() == 2);
  REQUIRE(state[0].first == "weight");
  REQUIRE(state[1].first == "bias");
  Tensor x = random_input({3, 2, 2, 2}, gen);
  Tensor y_train = bn(x);
  bn.eval();
  REQUIRE(bn.uses_batch_statistics());
  REQUIRE(bn(x).to_vector() == y_train.to_vector());
  REQUIRE_THROWS_WITH(bn(random_input({1, 2, 1, 1}, gen)), Catch::Contains("more than 1 value"));
  REQUIRE_THROWS(bn.set_frozen(true));
}

TEST_CASE("batchnorm without affine has no parameters and outputs plain xhat",
          "[batchnorm][options]") {
  Generator gen(9);
  BatchNormOptions options = channels(2);
  options.affine = false;
  BatchNorm1d bn(options);
  REQUIRE(bn.named_parameters().empty());
  REQUIRE(bn.named_buffers().size() == 3);
  Tensor x = random_input({4, 2}, gen);
  cnn::testing::check_gradients("batchnorm1d no affine",
                                [&](const std::vector<Tensor>& in) { return bn(in[0]); }, {x});
  Tensor y = bn(Tensor::from_vector({2, 2}, {1, 5, 3, 5}));
  REQUIRE(y.at({0, 0}) == Approx(-1.0 / std::sqrt(1.0 + 1e-5)));
  REQUIRE(y.at({0, 1}) == 0.0f);  // zero variance: (x - mean) = 0
}

TEST_CASE("batchnorm parameters and buffers follow PyTorch's names, order and types",
          "[batchnorm][state]") {
  BatchNorm2d bn(channels(4));
  std::vector<NamedTensor> state = bn.state_dict();
  REQUIRE(state.size() == 5);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : state) names.push_back(name);
  REQUIRE(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                            "num_batches_tracked"});
  REQUIRE(bn.weight().to_vector() == std::vector<float>(4, 1.0f));
  REQUIRE(bn.bias().to_vector() == std::vector<float>(4, 0.0f));
  REQUIRE(bn.running_mean().to_vector() == std::vector<float>(4, 0.0f));
  REQUIRE(bn.running_var().to_vector() == std::vector<float>(4, 1.0f));
  REQUIRE(bn.num_batches_tracked().dtype() == DType::Int64);
  REQUIRE(bn.num_batches_tracked().shape().empty());
  REQUIRE(bn.weight().requires_grad());
  REQUIRE_FALSE(bn.running_mean().requires_grad());
  REQUIRE(bn.parameter_count() == 8);
  REQUIRE(bn.eps() == 1e-5f);
  REQUIRE(bn.momentum() == 0.1f);
  REQUIRE_FALSE(bn.frozen());
}

TEST_CASE("batchnorm YAML keys: defaults, momentum null, and errors naming the key",
          "[batchnorm][yaml]") {
  auto bn = std::dynamic_pointer_cast<BatchNorm>(build("batchnorm2d", "{}", {1, 6, 4, 4}));
  REQUIRE(bn);
  REQUIRE(bn->type() == "batchnorm2d");
  REQUIRE(bn->options().num_features == 6);
  REQUIRE(bn->momentum() == 0.1f);
  bn = std::dynamic_pointer_cast<BatchNorm>(
      build("batchnorm2d", "{momentum: null, eps: 0.001, frozen: true}", {1, 6, 4, 4}));
  REQUIRE_FALSE(bn->momentum().has_value());
  REQUIRE(bn->eps() == 0.001f);
  REQUIRE(bn->frozen());
  bn = std::dynamic_pointer_cast<BatchNorm>(build("batchnorm1d", "{affine: false}", {1, 10}));
  REQUIRE(bn->type() == "batchnorm1d");
  REQUIRE_FALSE(bn->weight().defined());
  REQUIRE_THROWS_WITH(
      build("batchnorm2d", "{momentum: 1.5}", {1, 6, 4, 4}),
      Catch::Contains("model.layers[0].batchnorm2d.momentum") && Catch::Contains("Keras"));
  REQUIRE_THROWS_WITH(
      build("batchnorm2d", "{frozen: true, track_running_stats: false}", {1, 6, 4, 4}),
      Catch::Contains("frozen"));
  REQUIRE_THROWS_WITH(build("batchnorm2d", "{}", {1, 10}), Catch::Contains("[1, 10]"));
  REQUIRE(find_layer("batchnorm2d")->is_normalization);
  REQUIRE(find_layer("batchnorm1d")->is_normalization);
}

TEST_CASE("batchnorm2d matches PyTorch over two training steps and eval", "[batchnorm][pytorch]") {
  YAML::Node f = YAML::LoadFile(std::string(CNNLAB_FIXTURES_DIR) + "/batchnorm2d_steps.json");
  BatchNorm2d bn(channels(3));
  BatchNormOptions cma_options = channels(3);
  cma_options.momentum.reset();
  BatchNorm2d cma(cma_options);
  bn.weight().copy_(fixture_tensor(f["weight"]));
  bn.bias().copy_(fixture_tensor(f["bias"]));
  for (int step = 1; step <= 2; ++step) {
    std::string p = "step" + std::to_string(step) + "_";
    INFO("training step " << step);
    Tensor x = fixture_tensor(f[p + "x"]).set_requires_grad();
    bn.weight().zero_grad();
    bn.bias().zero_grad();
    Tensor y = bn(x);
    y.backward(fixture_tensor(f[p + "dy"]));
    require_close(y, fixture_tensor(f[p + "y"]), p + "y");
    require_close(x.grad(), fixture_tensor(f[p + "dx"]), p + "dx");
    require_close(bn.weight().grad(), fixture_tensor(f[p + "dweight"]), p + "dweight");
    require_close(bn.bias().grad(), fixture_tensor(f[p + "dbias"]), p + "dbias");
    require_close(bn.running_mean(), fixture_tensor(f[p + "running_mean"]), p + "running_mean");
    require_close(bn.running_var(), fixture_tensor(f[p + "running_var"]), p + "running_var");
    REQUIRE(bn.num_batches_tracked().data_i64()[0] == f[p + "num_batches_tracked"].as<int64_t>());
    {
      NoGradGuard no_grad;
      cma(x);
    }
    require_close(cma.running_mean(), fixture_tensor(f[p + "cma_running_mean"]),
                  p + "cma_running_mean");
    require_close(cma.running_var(), fixture_tensor(f[p + "cma_running_var"]),
                  p + "cma_running_var");
  }
  bn.eval();
  bn.weight().zero_grad();
  bn.bias().zero_grad();
  Tensor x = fixture_tensor(f["eval_x"]).set_requires_grad();
  Tensor y = bn(x);
  y.backward(fixture_tensor(f["eval_dy"]));
  require_close(y, fixture_tensor(f["eval_y"]), "eval y");
  require_close(x.grad(), fixture_tensor(f["eval_dx"]), "eval dx");
  require_close(bn.weight().grad(), fixture_tensor(f["eval_dweight"]), "eval dweight");
  require_close(bn.bias().grad(), fixture_tensor(f["eval_dbias"]), "eval dbias");
}

TEST_CASE("batchnorm2d matches a reference composed of core ops on a larger (threaded) input",
          "[batchnorm][reference]") {
  // 8*16*12*12 values: above the threshold where the kernels use OpenMP threads.
  Generator gen(10);
  BatchNorm2d bn(channels(16));
  randomise_affine(bn, gen);
  Tensor x = random_input({8, 16, 12, 12}, gen, 2.0f, 1.0f);
  Tensor dy = randn({8, 16, 12, 12}, gen);
  bn(x).backward(dy);
  Tensor dx = x.grad(), dw = bn.weight().grad(), db = bn.bias().grad();

  // The textbook composition, differentiated by the tape op by op.
  Tensor xr = x.detach().clone().set_requires_grad();
  Tensor wr = bn.weight().detach().clone().set_requires_grad();
  Tensor br = bn.bias().detach().clone().set_requires_grad();
  Tensor mu = mean(xr, {0, 2, 3}, true);
  Tensor centred = xr - mu;
  Tensor var = mean(centred * centred, {0, 2, 3}, true);
  Tensor y = centred / sqrt(var + 1e-5f) * reshape(wr, {1, 16, 1, 1}) + reshape(br, {1, 16, 1, 1});
  y.backward(dy);
  auto close = [](const Tensor& a, const Tensor& b, const char* what) {
    INFO(what);
    std::vector<float> va = a.to_vector(), vb = b.to_vector();
    REQUIRE(va.size() == vb.size());
    for (size_t i = 0; i < va.size(); ++i)
      REQUIRE(va[i] == Approx(vb[i]).margin(1e-4).epsilon(1e-3));
  };
  close(dx, xr.grad(), "dx");
  close(dw, wr.grad(), "dweight");
  close(db, br.grad(), "dbias");
  bn.eval();
  NoGradGuard no_grad;
  Tensor ye = bn(x);
  Tensor rm = reshape(bn.running_mean(), {1, 16, 1, 1}),
         rv = reshape(bn.running_var(), {1, 16, 1, 1});
  close(ye,
        (x.detach() - rm) / sqrt(rv + 1e-5f) * reshape(bn.weight(), {1, 16, 1, 1}) +
            reshape(bn.bias(), {1, 16, 1, 1}),
        "eval y");
}

TEST_CASE("sync batch norm over 2 processes with the same batch equals batch norm on it twice",
          "[layers][batchnorm][distributed]") {
  // Two processes holding the same x: their sums are twice one process's (core/collective).
  set_collective([](double* data, int64_t count) {
    for (int64_t i = 0; i < count; ++i) data[i] *= 2;
  }, 2);
  struct Uninstall {
    ~Uninstall() { set_collective({}, 1); }
  } uninstall;
  Generator generator(11);
  const Shape shape{4, 3, 5, 5};
  const int64_t numel = 4 * 3 * 5 * 5;
  std::vector<float> xs(numel), gs(numel);
  for (float& v : xs) v = 3.0f + 2.0f * static_cast<float>(generator.normal());
  for (float& v : gs) v = static_cast<float>(generator.normal());
  std::vector<float> xs2 = xs, gs2 = gs;  // [x; x] along N
  xs2.insert(xs2.end(), xs.begin(), xs.end());
  gs2.insert(gs2.end(), gs.begin(), gs.end());

  BatchNormOptions options;
  options.num_features = 3;
  options.sync = true;
  BatchNorm2d synced(options);
  options.sync = false;
  BatchNorm2d plain(options);
  Tensor x = Tensor::from_vector(shape, xs).set_requires_grad();
  Tensor x2 = Tensor::from_vector({8, 3, 5, 5}, xs2).set_requires_grad();
  Tensor y = synced(x), y2 = plain(x2);
  y.backward(Tensor::from_vector(shape, gs));
  y2.backward(Tensor::from_vector({8, 3, 5, 5}, gs2));

  const std::vector<float> a = y.to_vector(), b = y2.to_vector();
  const std::vector<float> da = x.grad().to_vector(), db = x2.grad().to_vector();
  for (int64_t i = 0; i < numel; ++i) {
    REQUIRE(a[i] == Approx(b[i]).margin(1e-5));
    REQUIRE(da[i] == Approx(db[i]).margin(1e-5));
  }
  // running statistics from the global count (unbiased variance over 2 x 100 values)
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(synced.running_mean().to_vector()[c] == Approx(plain.running_mean().to_vector()[c]));
    CHECK(synced.running_var().to_vector()[c] == Approx(plain.running_var().to_vector()[c]));
    // weight and bias: this process's share (the gradient average adds the processes')
    CHECK(2 * synced.weight().grad().to_vector()[c] ==
          Approx(plain.weight().grad().to_vector()[c]).margin(1e-4));
    CHECK(2 * synced.bias().grad().to_vector()[c] ==
          Approx(plain.bias().grad().to_vector()[c]).margin(1e-4));
  }
}
