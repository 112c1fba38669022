// The eval subcommand.
#include "apps/eval_command.h"

#include <cstdio>

#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "layers/fold_batchnorm.h"
#include "layers/fusion.h"

namespace cnn {

int run_eval_command(const Config& config, const std::string& weights, bool json,
                     bool use_batch_stats, int64_t batch_size, bool fold_bn) {
  DataConfig data = parse_data_config(config.root["data"], "data");
  if (batch_size > 0) data.batch_size = batch_size;
  apply_precision_setting(config.train.precision);
  std::shared_ptr<Sequential> model = build_model_from_config(config, data);
  apply_thread_setting(config.train.threads);
  SafetensorsFile file = load_safetensors(weights);
  try {
    model->load_state_dict(file.tensors, true);
  } catch (const Error& e) {
    CNN_FAIL("--weights '", weights, "': ", e.what());
  }
  model->eval();
  int folded = 0;
  if (fold_bn) folded = fold_batchnorm(*model);
  fuse_for_evaluation(*model);
  Datasets datasets = load_datasets(data);
  DataLoader loader(datasets.test, loader_options(data, datasets.normalization, false), config.seed);
  int64_t classes = static_cast<int64_t>(datasets.test.classes.size());
  EvalResult result = evaluate(*model, loader, classes, use_batch_stats);
  if (json) {
    std::printf("%s", result.to_json(datasets.test.classes).c_str());
    return 0;
  }
  std::printf("weights: %s%s%s\n", weights.c_str(),
              use_batch_stats ? " (batch statistics, eval batch " : "",
              use_batch_stats ? (std::to_string(data.batch_size) + ")").c_str() : "");
  if (fold_bn) std::printf("folded %d batch-norm layers into their convolutions\n", folded);
  std::printf("test loss %.4f, accuracy %.2f%% on %ld images\n\nper-class accuracy:\n", result.loss,
              result.accuracy * 100, (long)result.images);
  for (int64_t k = 0; k < classes; ++k)
    std::printf("  %-12s %6.2f%%\n", datasets.test.classes[k].c_str(), result.per_class_accuracy[k] * 100);
  std::printf("\nconfusion matrix (rows: true class, columns: predicted):\n");
  for (int64_t k = 0; k < classes; ++k) {
    std::printf("  %-12s", datasets.test.classes[k].c_str());
    for (int64_t p = 0; p < classes; ++p) std::printf(" %5ld", (long)result.confusion[k][p]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace cnn
