// The Adam family's update, in PyTorch's order (torch/optim/adam.py and adamw.py,
// _single_tensor_*), t counting this parameter's steps from 1:
//   AdamW: p *= 1 - lr * weight_decay            Adam: g += weight_decay * p
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   v_max = max(v_max, v) when amsgrad, and it replaces v below
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include "optim/adam.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace cnn {

using optim_detail::format_number;

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Adam(std::move(groups), options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(groups), options.lr, options.weight_decay),
      options_(options),
      decoupled_(decoupled) {
  const char* name = decoupled ? "adamw" : "adam";
  CNN_CHECK(options.eps >= 0.0, name, ": eps must be >= 0, got ", options.eps);
  CNN_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0, name, ": betas[0] must be in [0, 1), got ",
            options.beta1);
  CNN_CHECK(options.beta2 >= 0.0 && options.beta2 < 1.0, name, ": betas[1] must be in [0, 1), got ",
            options.beta2);
}

std::string Adam::describe() const {
  std::string out = type() + "(lr=" + format_number(lr()) + ", betas=(" +
                    format_number(options_.beta1) + ", " + format_number(options_.beta2) +
                    "), eps=" + format_number(options_.eps) +
                    ", weight_decay=" + format_number(options_.weight_decay);
  if (options_.amsgrad) out += ", amsgrad";
  return out + ")";
}

std::vector<Optimizer::StateField> Adam::state_fields() const {
  std::vector<StateField> fields = {{"step", true}, {"exp_avg", false}, {"exp_avg_sq", false}};
  if (options_.amsgrad) fields.push_back({"max_exp_avg_sq", false});
  return fields;
}

void Adam::update(const ParamGroup& group, ParamState& state, Tensor& param, const Tensor& grad) {
  if (state.empty()) {
    state["step"] = Tensor::from_int64({}, {0});
    state["exp_avg"] = Tensor::zeros(param.shape());
    state["exp_avg_sq"] = Tensor::zeros(param.shape());
    if (options_.amsgrad) state["max_exp_avg_sq"] = Tensor::zeros(param.shape());
  }
  const int64_t step = ++state["step"].data_i64()[0];
  const int64_t n = param.numel();
  float* p = param.data();
  const float* g = grad.data();
  float* m = state["exp_avg"].data();
  float* v = state["exp_avg_sq"].data();
  float* v_max = options_.amsgrad ? state["max_exp_avg_sq"].data() : nullptr;

  const double lr = *group.lr;
  // Bias corrections in double, as PyTorch computes them from Python floats.
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step));
  const float step_size = static_cast<float>(lr / bias_correction1);
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float beta1 = static_cast<float>(options_.beta1);
  const float beta2 = static_cast<float>(options_.beta2);
  const float one_minus_beta1 = static_cast<float>(1.0 - options_.beta1);
  const float one_minus_beta2 = static_cast<float>(1.0 - options_.beta2);
  const float eps = static_cast<float>(options_.eps);
  const bool decoupled = decoupled_;
  const float l2 = decoupled ? 0.0f : static_cast<float>(*group.weight_decay);
  const float decay_factor = static_cast<float>(1.0 - lr * *group.weight_decay);
  const bool decay = decoupled && *group.weight_decay != 0.0;

#pragma omp parallel for if (n > kParallelMinUpdateElements)
  for (int64_t k = 0; k < n; ++k) {
    if (decay) p[k] *= decay_factor;
    const float gk = l2 != 0.0f ? g[k] + l2 * p[k] : g[k];
    m[k] = beta1 * m[k] + one_minus_beta1 * gk;
    v[k] = beta2 * v[k] + one_minus_beta2 * gk * gk;
    float second = v[k];
    if (v_max) second = v_max[k] = std::max(v_max[k], v[k]);
    const float denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    p[k] -= step_size * m[k] / denom;
  }
}

}  // namespace cnn
