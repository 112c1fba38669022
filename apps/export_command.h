// `cnnlab export`: a config's model with saved weights as an ONNX file for inference, BN
// folded into the convolutions before it (as `eval --fold-bn`) unless asked not to, and the
// config's normalization as the graph's first nodes, so the file alone classifies pixels
// in [0, 1] (NCHW float32, any batch size).
#pragma once

#include <string>

#include "apps/config.h"
#include "apps/onnx_export.h"

namespace cnn {

struct ExportOptions {
  std::string weights;  // .safetensors with the model's PyTorch names
  std::string out;      // the .onnx file written
  bool fold_bn = true;
  bool normalize = true;
  int64_t opset = kOnnxMaxOpset;
};

struct ExportSummary {
  int folded = 0;  // batch norms folded into convolutions
  int64_t nodes = 0, initializers = 0;
  std::string ops;              // "Conv x6, Relu x6, ..."
  Normalization normalization;  // the one in the graph (disabled: none)
  Shape input_shape;            // [1, C, H, W]; the batch is dynamic in the file
};

// Builds the model of `config`, loads `options.weights` (strictly), exports and writes it.
ExportSummary export_model(const Config& config, const ExportOptions& options);

// The subcommand: export_model, then one summary line per fact on stdout. Returns 0.
int run_export_command(const Config& config, const ExportOptions& options);

}  // namespace cnn
