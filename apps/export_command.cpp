// The export subcommand: build, load, fold, resolve the normalization, export, write.
#include "apps/export_command.h"

#include <cstdio>

#include "apps/model_setup.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "layers/fold_batchnorm.h"

namespace cnn {

namespace {

// The normalization the data loader applies after x / 255: fixed from the config, or
// `auto`'s training-set statistics (which needs the data set, as training does).
Normalization config_normalization(const DataConfig& data) {
  switch (data.normalize_mode) {
    case NormalizeMode::None:
      return {};
    case NormalizeMode::Fixed:
      return data.normalize;
    case NormalizeMode::Auto:
      return load_datasets(data).normalization;
  }
  return {};
}

}  // namespace

ExportSummary export_model(const Config& config, const ExportOptions& options) {
  CNN_CHECK(!options.out.empty(), "export: --out FILE.onnx is required");
  DataConfig data = parse_data_config(config.root["data"], "data");
  std::shared_ptr<Sequential> model = build_model_from_config(config, data);
  SafetensorsFile file = load_safetensors(options.weights);
  try {
    model->load_state_dict(file.tensors, true);
  } catch (const Error& e) {
    CNN_FAIL("--weights '", options.weights, "': ", e.what());
  }
  model->eval();
  ExportSummary summary;
  if (options.fold_bn) summary.folded = fold_batchnorm(*model);
  OnnxExportOptions onnx;
  onnx.opset = options.opset;
  if (options.normalize) onnx.normalization = config_normalization(data);
  summary.input_shape = model_input_shape(data);
  OnnxGraph graph = export_onnx(*model, summary.input_shape, onnx);
  write_onnx_model(graph, config.name, options.out);
  summary.nodes = static_cast<int64_t>(graph.nodes().size());
  summary.initializers = static_cast<int64_t>(graph.initializers().size());
  summary.ops = graph.op_summary();
  summary.normalization = onnx.normalization;
  return summary;
}

int run_export_command(const Config& config, const ExportOptions& options) {
  ExportSummary summary = export_model(config, options);
  Shape input = summary.input_shape;
  std::string dims = "batch";
  for (size_t d = 1; d < input.size(); ++d) dims += ", " + std::to_string(input[d]);
  std::printf("wrote %s: ONNX opset %ld, input float32 [%s], pixels in [0, 1]\n",
              options.out.c_str(), static_cast<long>(options.opset), dims.c_str());
  std::printf("normalization in the graph: %s\n",
              summary.normalization.enabled()
                  ? summary.normalization.describe().c_str()
                  : (options.normalize ? "none (the config has none)" : "none (--no-normalize)"));
  if (options.fold_bn)
    std::printf("folded %d batch-norm layers into their convolutions\n", summary.folded);
  std::printf("%ld nodes, %ld initializers: %s\n", static_cast<long>(summary.nodes),
              static_cast<long>(summary.initializers), summary.ops.c_str());
  return 0;
}

}  // namespace cnn
