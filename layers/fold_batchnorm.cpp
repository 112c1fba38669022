// BN folding: the per-channel affine of an eval BN moved into the preceding conv.
#include "layers/fold_batchnorm.h"

#include <cmath>

#include "core/autograd.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/fusion.h"
#include "layers/identity.h"
#include "layers/sequential.h"

namespace cnn {

namespace {

bool foldable(const BatchNorm2d& bn) {
  return bn.track_running_stats() && (!bn.training() || bn.frozen());
}

// conv weight [O, C/groups, kh, kw] and bias [O] absorb bn (num_features == O).
void fold_into(Conv2d& conv, const BatchNorm2d& bn) {
  const int64_t out = conv.options().out_channels;
  CNN_CHECK(bn.options().num_features == out, "fold_batchnorm: ", bn.describe(), " follows ",
            conv.describe(), " but their channel counts differ (", out, " vs ",
            bn.options().num_features, ")");
  NoGradGuard no_grad;
  if (!conv.bias().defined()) conv.set_bias(Tensor::zeros({out}));
  const std::vector<float> mean = bn.running_mean().contiguous().to_vector();
  const std::vector<float> var = bn.running_var().contiguous().to_vector();
  const std::vector<float> gamma =
      bn.weight().defined() ? bn.weight().contiguous().to_vector() : std::vector<float>(out, 1.0f);
  const std::vector<float> beta =
      bn.bias().defined() ? bn.bias().contiguous().to_vector() : std::vector<float>(out, 0.0f);
  Tensor& weight = conv.weight();
  CNN_CHECK(weight.is_contiguous(), "fold_batchnorm: expected a contiguous conv weight");
  const int64_t per_channel = weight.numel() / out;
  float* w = weight.data();
  float* b = conv.bias().data();
  for (int64_t o = 0; o < out; ++o) {
    // In double: the folded model should match the unfolded one to float rounding.
    const double scale = gamma[o] / std::sqrt(static_cast<double>(var[o]) + bn.eps());
    for (int64_t i = 0; i < per_channel; ++i)
      w[o * per_channel + i] = static_cast<float>(w[o * per_channel + i] * scale);
    b[o] = static_cast<float>((static_cast<double>(b[o]) - mean[o]) * scale + beta[o]);
  }
}

int fold_recursive(Module& module) {
  int folded = 0;
  if (auto* sequence = dynamic_cast<Sequential*>(&module)) {
    for (size_t i = 0; i + 1 < sequence->size(); ++i) {
      auto* conv = dynamic_cast<Conv2d*>(sequence->at(i).get());
      auto* bn = dynamic_cast<BatchNorm2d*>(sequence->at(i + 1).get());
      if (!conv || !bn || !foldable(*bn)) continue;
      fold_into(*conv, *bn);
      auto identity = std::make_shared<Identity>();
      identity->train(sequence->training());
      sequence->replace(i + 1, identity);
      ++folded;
    }
  }
  for (const auto& [name, child] : module.children()) folded += fold_recursive(*child);
  return folded;
}

}  // namespace

int fold_batchnorm(Module& model) {
  CNN_CHECK(!model.training(),
            "fold_batchnorm: the model is in training mode, where batch "
            "norm uses each batch's statistics, which cannot be folded; call eval() first");
  unfuse(model);  // fused steps would still run the BN layers folded away
  return fold_recursive(model);
}

}  // namespace cnn
