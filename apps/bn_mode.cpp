// train.bn_mode (see bn_mode.h): freezing BN layers, and re-estimating their statistics.
#include "apps/bn_mode.h"

#include <vector>

#include "apps/evaluate.h"
#include "core/autograd.h"
#include "core/error.h"
#include "layers/batchnorm.h"

namespace cnn {

namespace {

// Every BN layer with its module path ("3", "0.body.1"), in state-dict order.
void collect_batchnorms(Module& module, const std::string& path,
                        std::vector<std::pair<std::string, BatchNorm*>>& out) {
  if (auto* bn = dynamic_cast<BatchNorm*>(&module)) out.emplace_back(path, bn);
  for (const auto& [name, child] : module.children())
    if (child) collect_batchnorms(*child, path.empty() ? name : path + "." + name, out);
}

std::vector<std::pair<std::string, BatchNorm*>> batchnorms_of(Module& model) {
  std::vector<std::pair<std::string, BatchNorm*>> found;
  collect_batchnorms(model, "", found);
  return found;
}

}  // namespace

void apply_bn_mode(Module& model, const std::string& mode) {
  CNN_CHECK(mode == "update" || mode == "freeze" || mode == "reestimate",
            "train.bn_mode: expected update, freeze or reestimate, found '", mode, "'");
  if (mode == "update") return;
  const auto layers = batchnorms_of(model);
  CNN_CHECK(!layers.empty(), "train.bn_mode: '", mode,
            "' acts on batch-norm layers and this model has none (model.norm is not batch, "
            "and no batchnorm1d/2d is listed); use bn_mode: update");
  for (const auto& [path, bn] : layers) {
    CNN_CHECK(bn->track_running_stats(), "train.bn_mode: '", mode, "': the ", bn->type(),
              " at model.layers path '", path,
              "' has no running statistics (track_running_stats: false) to normalise with");
    bn->set_frozen(true);
    if (bn->weight().defined()) bn->weight().set_requires_grad(false);
    if (bn->bias().defined()) bn->bias().set_requires_grad(false);
  }
}

int reestimate_bn_statistics(Module& model, DataLoader& loader) {
  const auto layers = batchnorms_of(model);
  if (layers.empty()) return 0;
  struct Saved {
    std::optional<float> momentum;
    bool frozen;
  };
  std::vector<Saved> saved;
  for (const auto& [path, bn] : layers) {
    saved.push_back({bn->momentum(), bn->frozen()});
    bn->set_frozen(false);
    bn->set_momentum(std::nullopt);  // factor 1/k at the k-th batch: the batches' mean
    bn->running_mean().fill_(0.0f);
    bn->running_var().fill_(1.0f);
    bn->num_batches_tracked().data_i64()[0] = 0;
  }
  const bool was_training = model.training();
  NoGradGuard no_grad;
  model.eval();  // dropout and the rest as in evaluation; only BN sees batch statistics
  set_batchnorm_training(model, true);
  loader.begin_epoch(0);
  while (auto batch = loader.next()) model.forward(batch->images);
  for (size_t i = 0; i < layers.size(); ++i) {
    layers[i].second->set_momentum(saved[i].momentum);
    layers[i].second->set_frozen(saved[i].frozen);
  }
  model.train(was_training);
  return static_cast<int>(layers.size());
}

}  // namespace cnn
