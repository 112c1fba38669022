// libFuzzer target: a YAML config through everything `cnnlab train` checks before it
// touches data or disk: YAML::Load, config_from_yaml (top level and train section),
// parse_data_config, build_model (every layer factory and shape check), make_optimizer and
// make_schedule. cnn::Error and YAML::Exception are clean rejections; anything else (a crash,
// another exception, a sanitizer report, a hang, a huge allocation) is a finding.
//
// Allocation: any single allocation above 1 GiB fails (ASan returns null, and the tensor
// allocator turns that into a cnn::Error, as a failed allocation does in a normal build), so
// absurd sizes (out_channels: 1000000000) are clean rejections. Integers between 32 and 2^31
// make the harness skip the input: they ask for models that are legal but big, which would
// only fill memory; huge values (>= 2^31) stay in, since they are where overflows hide.
// A model that builds is then run forward on a batch of 2 when it is small, and its output
// must have the shape the builder predicted.
#include <omp.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "apps/config.h"
#include "apps/model_setup.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/gemm.h"
#include "data/config.h"
#include "optim/factory.h"

namespace {

constexpr int64_t kMaxSmallInteger = 32;
constexpr int64_t kMinHugeInteger = int64_t{1} << 31;
constexpr int64_t kMaxNodes = 4096;                // aliases can make a small text a big tree
constexpr int64_t kMaxForwardParameters = 100000;  // forward only small models (speed)

// False when the document holds a mid-sized integer or is too large a tree.
bool within_limits(const YAML::Node& node, int64_t& nodes) {
  if (++nodes > kMaxNodes) return false;
  if (node.IsScalar()) {
    int64_t value = 0;
    if (YAML::convert<int64_t>::decode(node, value)) {
      const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : value;
      if (magnitude > kMaxSmallInteger && magnitude < static_cast<uint64_t>(kMinHugeInteger))
        return false;
    }
    return true;
  }
  if (node.IsSequence()) {
    for (const auto& child : node)
      if (!within_limits(child, nodes)) return false;
  } else if (node.IsMap()) {
    for (const auto& entry : node)
      if (!within_limits(entry.first, nodes) || !within_limits(entry.second, nodes)) return false;
  }
  return true;
}

void check_config(const YAML::Node& document) {
  cnn::Config config = cnn::config_from_yaml(document, "fuzz.yaml");
  cnn::DataConfig data = cnn::parse_data_config(config.root["data"], "data");
  std::shared_ptr<cnn::Sequential> model = cnn::build_model_from_config(config, data);
  std::unique_ptr<cnn::Optimizer> optimizer =
      cnn::make_model_optimizer(config.root["optim"], *model, "optim");
  const int64_t steps_per_epoch = 3;
  std::unique_ptr<cnn::Schedule> schedule =
      cnn::make_schedule(config.root["schedule"], optimizer->base_lr(), steps_per_epoch,
                         config.train.epochs, "schedule");
  const int64_t total = steps_per_epoch * config.train.epochs;  // make_schedule checked it
  for (int64_t step : {int64_t{0}, int64_t{1}, total / 2, total - 1, total}) {
    double lr = schedule->lr_at(step);
    if (std::isfinite(optimizer->base_lr()) && !std::isfinite(lr)) {
      std::fprintf(stderr, "schedule '%s' gives lr %g at step %lld\n", schedule->describe().c_str(),
                   lr, static_cast<long long>(step));
      std::abort();
    }
  }

  if (model->parameter_count() > kMaxForwardParameters) return;
  cnn::Shape input = cnn::model_input_shape(data);
  input[0] = 2;
  if (input[2] > 32 || input[3] > 32) return;
  cnn::Shape predicted = model->output_shape(input);
  cnn::Tensor images = cnn::Tensor::zeros(input);
  cnn::Tensor output = model->forward(images);
  if (output.shape() != predicted) {
    std::fprintf(stderr, "forward gave %s, output_shape predicted %s\n",
                 cnn::shape_str(output.shape()).c_str(), cnn::shape_str(predicted).c_str());
    std::abort();
  }
}

}  // namespace

// Built-in ASan settings (ASAN_OPTIONS adds to them): a failed allocation returns null.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  omp_set_num_threads(1);
  cnn::set_blas_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    YAML::Node document = YAML::Load(text);
    int64_t nodes = 0;
    if (!within_limits(document, nodes)) return 0;
    check_config(document);
  } catch (const cnn::Error&) {
  } catch (const YAML::Exception&) {
  }
  return 0;
}
