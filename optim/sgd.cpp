// SGD's update, in PyTorch's order (torch/optim/sgd.py, _single_tensor_sgd):
//   d = grad + weight_decay * p
//   buf = d on the first step (no dampening), else buf = momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
#include "optim/sgd.h"

#include "core/parallel.h"

namespace cnn {

using optim_detail::format_number;

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay), options_(options) {
  CNN_CHECK(options.momentum >= 0.0, "sgd: momentum must be >= 0, got ", options.momentum);
  CNN_CHECK(options.dampening >= 0.0, "sgd: dampening must be >= 0, got ", options.dampening);
  CNN_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
            "sgd: nesterov needs momentum > 0 and dampening 0 (as PyTorch), got momentum ",
            options.momentum, " and dampening ", options.dampening);
}

std::string SGD::describe() const {
  std::string out =
      "sgd(lr=" + format_number(lr()) + ", momentum=" + format_number(options_.momentum);
  if (options_.dampening != 0.0) out += ", dampening=" + format_number(options_.dampening);
  if (options_.nesterov) out += ", nesterov";
  out += ", weight_decay=" + format_number(options_.weight_decay) + ")";
  return out;
}

std::vector<Optimizer::StateField> SGD::state_fields() const {
  if (options_.momentum == 0.0) return {};
  return {{"momentum_buffer", false}};
}

void SGD::update(const ParamGroup& group, ParamState& state, Tensor& param, const Tensor& grad) {
  const int64_t n = param.numel();
  float* p = param.data();
  const float* g = grad.data();
  // PyTorch passes these as Python floats to float32 kernels: they act as float32.
  const float lr = static_cast<float>(*group.lr);
  const float weight_decay = static_cast<float>(*group.weight_decay);
  const float momentum = static_cast<float>(options_.momentum);
  const float one_minus_dampening = static_cast<float>(1.0 - options_.dampening);
  const bool nesterov = options_.nesterov;

  if (options_.momentum == 0.0) {
#pragma omp parallel for if (n > kParallelMinUpdateElements)
    for (int64_t k = 0; k < n; ++k) {
      const float d = weight_decay != 0.0f ? g[k] + weight_decay * p[k] : g[k];
      p[k] -= lr * d;
    }
    return;
  }

  const bool first_step = state.empty();
  if (first_step) state["momentum_buffer"] = Tensor::empty(param.shape());
  float* buf = state["momentum_buffer"].data();
#pragma omp parallel for if (n > kParallelMinUpdateElements)
  for (int64_t k = 0; k < n; ++k) {
    float d = weight_decay != 0.0f ? g[k] + weight_decay * p[k] : g[k];
    buf[k] = first_step ? d : momentum * buf[k] + one_minus_dampening * d;
    d = nesterov ? d + momentum * buf[k] : buf[k];
    p[k] -= lr * d;
  }
}

}  // namespace cnn
