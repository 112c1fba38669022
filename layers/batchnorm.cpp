// Batch normalization: the differentiable batch_norm (training with batch statistics, or
// inference as a per-channel affine; its kernels are in core/batch_norm_kernels), then the
// module. Shapes: the input is viewed as [N,C,L] (L = H*W for BatchNorm2d, 1 or L for BatchNorm1d).
#include "layers/batchnorm.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/batch_norm_kernels.h"
#include "core/collective.h"
#include "layers/registry.h"

namespace cnn {

namespace {

// Per-channel values of an optional [C] tensor (weight: 1 when absent, bias: 0).
std::vector<float> channel_values(const Tensor& t, int64_t channels, float fallback) {
  if (!t.defined()) return std::vector<float>(channels, fallback);
  return t.contiguous().to_vector();
}

void check_input(const Shape& shape, int64_t channels, bool use_batch_stats,
                 const std::string& who) {
  CNN_CHECK(shape.size() >= 2 && shape[1] == channels, who, ": expected an input with ", channels,
            " channels in dimension 1 ([N, ", channels, ", ...]), found ", shape_str(shape));
  // PyTorch's check: the variance of a single value is 0 and the output would be all
  // beta (and its running variance update 0/0). Say so instead of producing NaNs.
  if (use_batch_stats) {
    NCL g = ncl_of(shape);
    CNN_CHECK(g.n * g.l > 1, who,
              ": Expected more than 1 value per channel when training, got "
              "input size ",
              shape_str(shape),
              " (batch statistics need at least 2 values per "
              "channel: use a batch of 2 or more, or eval mode)");
  }
}

// Synchronized batch statistics (the `sync` case of batch_norm): each process sums its part,
// the sums are added over the processes, and each normalises its part with the result. The
// shift (see BatchStatistics) must agree across processes: the running mean, which every
// process updates identically from the global statistics, or 0 without running statistics.
Tensor sync_batch_norm(const Tensor& input, const Tensor& x, NCL g, const Tensor& weight,
                       const Tensor& bias, Tensor running_mean, Tensor running_var, float factor,
                       float eps, bool then_relu) {
  std::vector<float> gamma = channel_values(weight, g.c, 1.0f);
  std::vector<float> beta = channel_values(bias, g.c, 0.0f);
  const bool tracked = running_mean.defined() && running_var.defined();
  std::vector<float> shift =
      tracked ? running_mean.contiguous().to_vector() : std::vector<float>(g.c, 0.0f);
  std::vector<double> sums(3 * g.c);
  batch_norm_channel_sums(x.data(), g, shift.data(), sums.data());
  allreduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  auto stats = std::make_shared<BatchStatistics>(g.c);
  batch_statistics_from_sums(sums.data(), shift.data(), gamma.data(), beta.data(), eps, *stats);
  Tensor y = Tensor::empty(input.shape());
  batch_norm_apply(x.data(), g, *stats, then_relu, y.data());
  if (tracked) {
    float* rm = running_mean.data();
    float* rv = running_var.data();
    for (int64_t c = 0; c < g.c; ++c) {
      const double m = sums[2 * g.c + c];  // the global count: the unbiased variance's
      rm[c] = (1.0f - factor) * rm[c] + factor * static_cast<float>(stats->mean[c]);
      rv[c] = (1.0f - factor) * rv[c] + factor * static_cast<float>(stats->var[c] * m / (m - 1.0));
    }
  }
  std::vector<double> count(sums.begin() + 2 * g.c, sums.end());
  const bool x_grad = input.requires_grad(), w_grad = weight.defined() && weight.requires_grad(),
             b_grad = bias.defined() && bias.requires_grad();
  return record_op(
      then_relu ? "sync_batch_norm_relu" : "sync_batch_norm", y, {input, weight, bias},
      [x, then_relu, g, gamma, stats, count, x_grad, w_grad, b_grad](const Tensor& grad_output) {
        Tensor dy = grad_output.contiguous();
        Tensor dx = x_grad ? Tensor::empty(x.shape()) : Tensor();
        Tensor dgamma = Tensor::empty({g.c}), dbeta = Tensor::empty({g.c});
        std::vector<double> dsums(2 * g.c);
        auto sums_of = then_relu ? batch_norm_backward_sums<true> : batch_norm_backward_sums<false>;
        sums_of(x.data(), dy.data(), g, *stats, dsums.data(), dgamma.data(), dbeta.data());
        if (x_grad) {  // the same on every process, so every process takes part or none
          allreduce_sum(dsums.data(), static_cast<int64_t>(dsums.size()));
          auto apply = then_relu ? batch_norm_backward_apply<true> : batch_norm_backward_apply<false>;
          apply(x.data(), dy.data(), g, gamma.data(), *stats, dsums.data(), count.data(),
                dx.data());
        }
        return std::vector<Tensor>{dx, w_grad ? dgamma : Tensor(), b_grad ? dbeta : Tensor()};
      });
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  Tensor running_mean, Tensor running_var, bool use_batch_stats, float factor,
                  float eps, const std::string& who, bool then_relu, bool sync) {
  CNN_CHECK(input.defined() && input.dtype() == DType::Float32, who, ": expected a float32 input");
  CNN_CHECK(input.dim() >= 2, who, ": expected an input [N, C, ...], found ",
            shape_str(input.shape()));
  const NCL g = ncl_of(input.shape());
  check_input(input.shape(), g.c, use_batch_stats, who);
  CNN_CHECK(use_batch_stats || (running_mean.defined() && running_var.defined()), who,
            ": normalising with running statistics needs running_mean and running_var");

  Tensor x = input.contiguous().detach();
  if (use_batch_stats && sync && collective_active())
    return sync_batch_norm(input, x, g, weight, bias, running_mean, running_var, factor, eps,
                           then_relu);
  Tensor y = Tensor::empty(input.shape());
  std::vector<float> gamma = channel_values(weight, g.c, 1.0f);
  std::vector<float> beta = channel_values(bias, g.c, 0.0f);
  const bool x_grad = input.requires_grad(), w_grad = weight.defined() && weight.requires_grad(),
             b_grad = bias.defined() && bias.requires_grad();

  if (use_batch_stats) {
    auto stats = std::make_shared<BatchStatistics>(g.c);
    batch_norm_train_forward(x.data(), g, gamma.data(), beta.data(), eps, then_relu, y.data(),
                             *stats);
    if (running_mean.defined() && running_var.defined()) {
      // PyTorch feeds the running variance the unbiased batch variance m/(m-1)*var.
      const double m = static_cast<double>(g.n * g.l);
      float* rm = running_mean.data();
      float* rv = running_var.data();
      for (int64_t c = 0; c < g.c; ++c) {
        rm[c] = (1.0f - factor) * rm[c] + factor * static_cast<float>(stats->mean[c]);
        rv[c] =
            (1.0f - factor) * rv[c] + factor * static_cast<float>(stats->var[c] * m / (m - 1.0));
      }
    }
    return record_op(
        then_relu ? "batch_norm_relu" : "batch_norm", y, {input, weight, bias},
        [x, then_relu, g, gamma, stats, x_grad, w_grad, b_grad](const Tensor& grad_output) {
          Tensor dy = grad_output.contiguous();
          Tensor dx = x_grad ? Tensor::empty(x.shape()) : Tensor();
          Tensor dgamma = Tensor::empty({g.c}), dbeta = Tensor::empty({g.c});
          auto backward =
              then_relu ? batch_norm_train_backward<true> : batch_norm_train_backward<false>;
          backward(x.data(), dy.data(), g, gamma.data(), *stats, x_grad ? dx.data() : nullptr,
                   dgamma.data(), dbeta.data());
          return std::vector<Tensor>{dx, w_grad ? dgamma : Tensor(), b_grad ? dbeta : Tensor()};
        });
  }

  std::vector<float> mean(g.c), invstd(g.c);
  std::vector<float> rm = running_mean.contiguous().to_vector();
  std::vector<float> rv = running_var.contiguous().to_vector();
  std::vector<float> scale(g.c), shift(g.c);
  for (int64_t c = 0; c < g.c; ++c) {
    mean[c] = rm[c];
    invstd[c] = 1.0f / std::sqrt(rv[c] + eps);
    scale[c] = gamma[c] * invstd[c];
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  channel_affine_forward(x.data(), g, scale.data(), shift.data(), then_relu, y.data());
  return record_op(
      then_relu ? "batch_norm_eval_relu" : "batch_norm_eval", y, {input, weight, bias},
      [x, then_relu, g, scale, shift, mean, invstd, x_grad, w_grad,
       b_grad](const Tensor& grad_output) {
        Tensor dy = grad_output.contiguous();
        Tensor dx = x_grad ? Tensor::empty(x.shape()) : Tensor();
        Tensor dgamma = Tensor::empty({g.c}), dbeta = Tensor::empty({g.c});
        auto backward =
            then_relu ? channel_affine_backward<true> : channel_affine_backward<false>;
        backward(x.data(), dy.data(), g, scale.data(), shift.data(), mean.data(), invstd.data(),
                 x_grad ? dx.data() : nullptr, dgamma.data(), dbeta.data());
        return std::vector<Tensor>{dx, w_grad ? dgamma : Tensor(), b_grad ? dbeta : Tensor()};
      });
}

// ---- the module -------------------------------------------------------------------------

BatchNorm::BatchNorm(const BatchNormOptions& options) : options_(options) {
  CNN_CHECK(options.num_features > 0, "batch norm: num_features must be positive, found ",
            options.num_features);
  CNN_CHECK(options.eps > 0.0f, "batch norm: eps must be positive, found ", options.eps);
  CNN_CHECK(!options.momentum || (*options.momentum >= 0.0f && *options.momentum <= 1.0f),
            "batch norm: momentum must lie in [0, 1] (PyTorch's convention: 0.1 = 10% of "
            "the batch statistics per step), found ",
            options.momentum.value_or(0.0f));
  CNN_CHECK(!options.frozen || options.track_running_stats,
            "batch norm: frozen: true needs track_running_stats: true (a frozen layer "
            "normalises with its running statistics)");
  const int64_t c = options.num_features;
  if (options.affine) {
    weight_ = Tensor::ones({c});
    bias_ = Tensor::zeros({c});
  }
  if (options.track_running_stats) {
    running_mean_ = Tensor::zeros({c});
    running_var_ = Tensor::ones({c});
    num_batches_tracked_ = Tensor::zeros({}, DType::Int64);
  }
  // PyTorch's state_dict order.
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
  register_buffer("running_mean", &running_mean_);
  register_buffer("running_var", &running_var_);
  register_buffer("num_batches_tracked", &num_batches_tracked_);
}

void BatchNorm::set_frozen(bool frozen) {
  CNN_CHECK(!frozen || options_.track_running_stats, type(),
            ": cannot freeze a layer without running statistics (track_running_stats: false)");
  options_.frozen = frozen;
}

void BatchNorm::set_momentum(std::optional<float> momentum) {
  CNN_CHECK(!momentum || (*momentum >= 0.0f && *momentum <= 1.0f), type(),
            ": momentum must lie in [0, 1], found ", momentum.value_or(0.0f));
  options_.momentum = momentum;
}

bool BatchNorm::uses_batch_statistics() const {
  return !options_.track_running_stats || (training() && !options_.frozen);
}

Tensor BatchNorm::forward(const Tensor& input) { return normalize(input, false); }

Tensor BatchNorm::forward_relu(const Tensor& input) { return normalize(input, true); }

Tensor BatchNorm::normalize(const Tensor& input, bool then_relu) {
  check_rank(input.shape());
  const bool batch_stats = uses_batch_statistics();
  check_input(input.shape(), options_.num_features, batch_stats, type());
  const bool update = batch_stats && options_.track_running_stats;
  float factor = 0.0f;
  if (update) {
    int64_t& tracked = num_batches_tracked_.data_i64()[0];
    tracked += 1;
    factor = options_.momentum ? *options_.momentum : 1.0f / static_cast<float>(tracked);
  }
  // With batch statistics the running ones (when tracked) are updated, else they normalise.
  return batch_norm(input, weight_, bias_, running_mean_, running_var_, batch_stats, factor,
                    options_.eps, type(), then_relu, options_.sync);
}

Shape BatchNorm::output_shape(const Shape& input) const {
  check_rank(input);
  check_input(input, options_.num_features, false, type());
  return input;
}

std::string BatchNorm::describe() const {
  std::ostringstream out;
  out << type() << "(" << options_.num_features << ", eps=" << options_.eps << ", momentum=";
  if (options_.momentum)
    out << *options_.momentum;
  else
    out << "null (cumulative average)";
  out << ", affine=" << (options_.affine ? "true" : "false")
      << ", track_running_stats=" << (options_.track_running_stats ? "true" : "false");
  if (options_.frozen) out << ", frozen=true";
  if (options_.sync) out << ", sync=true";
  out << ")";
  return out.str();
}

void BatchNorm2d::check_rank(const Shape& input) const {
  CNN_CHECK(input.size() == 4, "batchnorm2d: expected a 4-d input [N, C, H, W], found ",
            shape_str(input), " (use batchnorm1d for [N, F] features)");
}

void BatchNorm1d::check_rank(const Shape& input) const {
  CNN_CHECK(input.size() == 2 || input.size() == 3,
            "batchnorm1d: expected a 2-d [N, C] or 3-d [N, C, L] input, found ", shape_str(input),
            " (use batchnorm2d for [N, C, H, W] maps)");
}

// ---- YAML -------------------------------------------------------------------------------

BatchNormOptions batchnorm_options(const LayerArgs& args, int64_t num_features) {
  BatchNormOptions options;
  options.num_features = num_features;
  options.eps = args.get_float("eps");
  if (args.is_null("momentum"))
    options.momentum.reset();
  else
    options.momentum = args.get_float("momentum");
  CNN_CHECK(!options.momentum || (*options.momentum >= 0.0f && *options.momentum <= 1.0f),
            args.key_path("momentum"),
            ": expected a number in [0, 1] (PyTorch's convention: "
            "0.1 = weight of the new batch; Keras' 0.99 is 0.01 here) or null for a cumulative "
            "average, found ",
            *options.momentum);
  options.affine = args.get_bool("affine");
  options.track_running_stats = args.get_bool("track_running_stats");
  options.frozen = args.get_bool("frozen");
  options.sync = args.get_bool("sync");
  CNN_CHECK(!options.frozen || options.track_running_stats, args.key_path("frozen"),
            ": a frozen layer normalises with its running statistics, so it needs "
            "track_running_stats: true");
  return options;
}

namespace {

std::vector<KeySpec> batchnorm_keys() {
  const BatchNormOptions defaults;
  return {{"eps", default_text(defaults.eps), "added to the variance before the square root"},
          {"momentum", default_text(*defaults.momentum),
           "running = (1 - momentum)*running + momentum*batch (PyTorch's convention; Keras' "
           "0.99 is 0.01 here); null = cumulative average"},
          {"affine", default_text(defaults.affine),
           "learnable per-channel weight (init 1) and bias (init 0)"},
          {"track_running_stats", default_text(defaults.track_running_stats),
           "keep running_mean/running_var for eval; false = batch statistics in eval too"},
          {"frozen", default_text(defaults.frozen),
           "always use and never update the running statistics, even in training "
           "(fine-tuning); weight and bias still train"},
          {"sync", default_text(defaults.sync),
           "SyncBatchNorm: in a data-parallel run (mpirun), batch statistics over every "
           "process's batch; one process: plain batch norm"}};
}

int64_t channels_of(const BuildContext& context, const char* type, size_t min_rank,
                    size_t max_rank) {
  const Shape& in = context.input_shape;
  CNN_CHECK(in.size() >= min_rank && in.size() <= max_rank, type, ": the input here is ",
            shape_str(in), ", which this layer does not accept");
  return in[1];
}

}  // namespace

CNNLAB_REGISTER_LAYER(LayerInfo{
    "batchnorm2d", "batch normalization over (N, H, W) per channel of [N,C,H,W]", batchnorm_keys(),
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      int64_t channels = channels_of(context, "batchnorm2d (expects [N, C, H, W])", 4, 4);
      return std::make_shared<BatchNorm2d>(batchnorm_options(args, channels));
    },
    true});

CNNLAB_REGISTER_LAYER(LayerInfo{
    "batchnorm1d", "batch normalization over N (and L) per feature of [N,C] or [N,C,L]",
    batchnorm_keys(),
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      int64_t channels = channels_of(context, "batchnorm1d (expects [N, C] or [N, C, L])", 2, 3);
      return std::make_shared<BatchNorm1d>(batchnorm_options(args, channels));
    },
    true});

}  // namespace cnn
