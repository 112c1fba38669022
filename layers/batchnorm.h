// Batch normalization (Ioffe & Szegedy 2015) with PyTorch's semantics: BatchNorm2d over
// [N,C,H,W] and BatchNorm1d over [N,C] or [N,C,L], one implementation over [N,C,L].
//
//   BatchNormOptions options;  options.num_features = 32;
//   BatchNorm2d bn(options);
//   Tensor y = bn(x);  // training: batch statistics, running statistics updated
//   bn.eval();
//   Tensor z = bn(x);  // eval: running statistics, a per-channel affine
#pragma once

#include <optional>
#include <string>

#include "layers/module.h"

namespace cnn {

struct BatchNormOptions {
  int64_t num_features = 0;
  float eps = 1e-5f;
  // PyTorch's convention: running <- (1 - momentum) * running + momentum * batch.
  // Empty (YAML `momentum: null`) = cumulative moving average, factor 1/num_batches_tracked.
  // Keras writes it the other way round: its 0.99 is 0.01 here.
  std::optional<float> momentum = 0.1f;
  bool affine = true;               // learnable weight (init 1) and bias (init 0)
  bool track_running_stats = true;  // false: no buffers, batch statistics in eval too
  // Fine-tuning: always use, and never update, the running statistics, even in training
  // mode (survives train()). The affine parameters still train.
  bool frozen = false;
  // SyncBatchNorm: in training, the statistics of the batch of every process of a
  // data-parallel run (core/collective.h); on one process exactly plain batch norm.
  bool sync = false;
};

// Functional batch norm over an input viewed as [N,C,L] (L = product of the dims after
// C, 1 for [N,C]), the role of torch.nn.functional.batch_norm. With use_batch_stats the
// batch mean and biased variance normalise, and when running_mean/running_var are defined
// they are updated in place with `factor` (running var fed the unbiased variance);
// otherwise the running statistics normalise (a per-channel affine). weight/bias may be
// undefined. `who` names the layer in errors. Recorded on the tape as one fused op; with
// then_relu it is BN followed by ReLU, max(y, 0) applied in the same pass (one pass over
// the activations less each way, and no separate BN output kept). With sync and a collective
// installed (a data-parallel run), the batch statistics are those of every process's batch:
// one sum of [sum x, sum x^2, count] forward, one of [sum dy, sum dy*(x - mean)] backward.
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  Tensor running_mean, Tensor running_var, bool use_batch_stats, float factor,
                  float eps, const std::string& who, bool then_relu = false,
                  bool sync = false);

class LayerArgs;
// Reads the YAML keys eps, momentum (null = cumulative), affine, track_running_stats and
// frozen (and sync); errors name the key path. Shared by batchnorm1d/2d and the `norm` switch.
BatchNormOptions batchnorm_options(const LayerArgs& args, int64_t num_features);

// The shared module; BatchNorm2d and BatchNorm1d differ only in the input ranks accepted.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  // The fusion hook (layers/module.h): relu(forward(input)) as one fused op, in training
  // and in evaluation; the fusion passes use it for a BN layer followed by a ReLU layer.
  bool absorbs_relu() const override { return true; }
  Tensor forward_relu(const Tensor& input) override;
  Shape output_shape(const Shape& input) const override;
  std::string describe() const override;

  const BatchNormOptions& options() const { return options_; }
  // Undefined when affine is false / track_running_stats is false.
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }
  Tensor& num_batches_tracked() { return num_batches_tracked_; }  // int64, shape []
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  const Tensor& num_batches_tracked() const { return num_batches_tracked_; }
  float eps() const { return options_.eps; }
  std::optional<float> momentum() const { return options_.momentum; }
  // Empty = cumulative average (a re-estimation pass over a data set sets it for its length).
  void set_momentum(std::optional<float> momentum);
  bool frozen() const { return options_.frozen; }
  void set_frozen(bool frozen);
  bool track_running_stats() const { return options_.track_running_stats; }
  // Whether the next forward normalises with the batch's statistics.
  bool uses_batch_statistics() const;

 protected:
  explicit BatchNorm(const BatchNormOptions& options);
  // Throws a sentence naming the layer when the rank is not accepted.
  virtual void check_rank(const Shape& input) const = 0;

 private:
  Tensor normalize(const Tensor& input, bool then_relu);

  BatchNormOptions options_;
  Tensor weight_, bias_;                                     // [C] parameters
  Tensor running_mean_, running_var_, num_batches_tracked_;  // buffers
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNorm(options) {}
  std::string type() const override { return "batchnorm2d"; }

 protected:
  void check_rank(const Shape& input) const override;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNorm(options) {}
  std::string type() const override { return "batchnorm1d"; }

 protected:
  void check_rank(const Shape& input) const override;
};

}  // namespace cnn
