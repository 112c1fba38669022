// Evaluation loop and its JSON form.
#include "apps/evaluate.h"

#include <nlohmann/json.hpp>

#include "apps/run_files.h"
#include "core/autograd.h"
#include "core/loss.h"

namespace cnn {

void set_batchnorm_training(Module& model, bool training) {
  const std::string type = model.type();
  if (type == "batchnorm2d" || type == "batchnorm1d") model.train(training);
  for (const auto& [name, child] : model.children()) set_batchnorm_training(*child, training);
}

EvalResult evaluate(Module& model, DataLoader& loader, int64_t num_classes, bool use_batch_stats) {
  NoGradGuard no_grad;
  bool was_training = model.training();
  model.eval();
  // Batch statistics without touching the running ones: snapshot and restore them.
  std::vector<std::pair<Tensor, Tensor>> saved_buffers;
  if (use_batch_stats) {
    for (auto& [name, buffer] : model.named_buffers()) saved_buffers.emplace_back(buffer, buffer.clone());
    set_batchnorm_training(model, true);
  }
  EvalResult result;
  result.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  double loss_sum = 0.0;
  int64_t correct = 0;
  loader.begin_epoch(0);
  while (auto batch = loader.next()) {
    Tensor logits = model.forward(batch->images);
    int64_t n = logits.size(0);
    loss_sum += cross_entropy(logits, batch->labels).item() * n;
    const float* scores = logits.data();
    const int64_t* labels = batch->labels.data_i64();
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < num_classes; ++k)
        if (scores[i * num_classes + k] > scores[i * num_classes + best]) best = k;
      result.confusion[labels[i]][best] += 1;
      correct += best == labels[i];
    }
    result.images += n;
  }
  if (use_batch_stats)
    for (auto& [buffer, copy] : saved_buffers) buffer.copy_(copy);
  model.train(was_training);
  result.loss = result.images ? loss_sum / result.images : 0.0;
  result.accuracy = result.images ? static_cast<double>(correct) / result.images : 0.0;
  for (int64_t k = 0; k < num_classes; ++k) {
    int64_t total = 0;
    for (int64_t p = 0; p < num_classes; ++p) total += result.confusion[k][p];
    result.per_class_accuracy.push_back(total ? static_cast<double>(result.confusion[k][k]) / total : 0.0);
  }
  return result;
}

std::string EvalResult::to_json(const std::vector<std::string>& class_names) const {
  nlohmann::ordered_json per_class = nlohmann::ordered_json::object();  // in class order
  for (size_t k = 0; k < per_class_accuracy.size(); ++k)
    per_class[k < class_names.size() ? class_names[k] : std::to_string(k)] = per_class_accuracy[k];
  nlohmann::ordered_json out;
  out["test_loss"] = loss;
  out["test_acc"] = accuracy;
  out["images"] = images;
  out["per_class_accuracy"] = std::move(per_class);
  out["confusion_matrix"] = confusion;
  return json_text(out);
}

}  // namespace cnn
