// model.conv_algorithm: each value builds a model whose convolutions run that path (where
// it can run) and trains a step; the paths agree to float rounding.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "apps/train_step.h"
#include "core/random.h"
#include "layers/builder.h"
#include "layers/conv2d.h"
#include "optim/factory.h"

using namespace cnn;

namespace {

// A 3x3 conv on 8 channels (Winograd's under auto) after a first conv on 3 (direct's).
std::shared_ptr<Sequential> net_with(const std::string& algorithm) {
  YAML::Node model = YAML::Load(R"(
layers:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu: {}
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu: {}
  - flatten: {}
  - linear: {out_features: 10}
)");
  model["conv_algorithm"] = algorithm;
  Generator generator(3);
  return build_model(model, {1, 3, 8, 8}, generator);
}

}  // namespace

TEST_CASE("model.conv_algorithm: every value trains a step, the paths agree",
          "[apps][conv_algorithm]") {
  Generator generator(5);
  const Batch batch{randn({4, 3, 8, 8}, generator), Tensor::from_int64({4}, {1, 2, 3, 4}), 0};
  std::vector<double> losses;
  for (const std::string& algorithm : conv_algorithm_names()) {
    INFO("model.conv_algorithm: " << algorithm);
    auto net = net_with(algorithm);
    auto* second = dynamic_cast<Conv2d*>(net->at(2).get());
    REQUIRE(second);
    CHECK(second->options().algorithm == conv_algorithm_from_name(algorithm, "test"));
    // Winograd runs the 8-channel layer under auto and when forced, not otherwise.
    CHECK(conv2d_runs_winograd({4, 8, 8, 8}, second->options()) ==
          (algorithm == "auto" || algorithm == "winograd"));
    auto optimizer =
        make_optimizer(YAML::Load("{name: sgd, lr: 0.1}"), net->named_parameters(), {});
    net->train();
    const double first = train_step(*net, *optimizer, nullptr, 0, batch, {}).loss;
    const double second_loss = train_step(*net, *optimizer, nullptr, 1, batch, {}).loss;
    REQUIRE(std::isfinite(second_loss));
    CHECK(second_loss < first);  // the step went downhill
    losses.push_back(second_loss);
  }
  for (double loss : losses) CHECK(loss == Approx(losses[0]).epsilon(1e-5));
}

TEST_CASE("model.conv_algorithm: a value it does not know is refused with the choices",
          "[apps][conv_algorithm]") {
  CHECK_THROWS_WITH(net_with("fft"), Catch::Contains("model.conv_algorithm") &&
                                         Catch::Contains("im2col") && Catch::Contains("'fft'"));
}
