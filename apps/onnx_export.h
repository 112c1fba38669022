// A built cnnlab model as an ONNX inference graph (opsets 13 to 17). Containers (Sequential,
// Residual) are walked here; each leaf layer type maps to ONNX operators through an exporter
// registered under its type() name, with its weights as initializers under their PyTorch
// state-dict names ("3.weight", "5.body.0.running_mean"). A layer type with no exporter is
// refused with a sentence naming the layer's path and type; a user's layer library can
// register an exporter for its own types with register_onnx_exporter.
//
//   model->eval();
//   fold_batchnorm(*model);  // optional: conv -> BN pairs become one Conv
//   OnnxGraph graph = export_onnx(*model, {1, 3, 32, 32}, options);
//   write_onnx_model(graph, "vgg6", "vgg6.onnx");
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "apps/onnx_graph.h"
#include "data/transforms.h"
#include "layers/module.h"

namespace cnn {

constexpr int64_t kOnnxMinOpset = 13;
constexpr int64_t kOnnxMaxOpset = 17;

struct OnnxExportOptions {
  int64_t opset = kOnnxMaxOpset;
  // When enabled, the graph's first nodes are (input - mean) / std per channel, so the
  // graph takes pixels in [0, 1] as the data loader produces them before normalizing.
  Normalization normalization;
  std::string input_name = "input";    // float32 [batch, C, H, W]
  std::string output_name = "logits";  // float32 [batch, ...]: the model's output
};

// What a layer's exporter is given besides the layer and its input value's name.
struct OnnxLayerContext {
  OnnxGraph& graph;
  std::string path;   // the layer's state-dict prefix: "3", "5.body.0"
  Shape input_shape;  // the input's shape with batch 1 (the batch is dynamic in the graph)
  // The PyTorch name of the layer's tensor `name`: path + "." + name.
  std::string name(const std::string& tensor) const { return path + "." + tensor; }
  // "layer 5.body.1 (batchnorm2d(...))", for error messages.
  std::string where;
};

// Adds the layer's nodes to context.graph and returns the name of its output value (its
// input's name when the layer is the identity in inference, as dropout).
using OnnxLayerExporter =
    std::function<std::string(Module& layer, const std::string& input, OnnxLayerContext& context)>;

void register_onnx_exporter(const std::string& type, OnnxLayerExporter exporter);
std::vector<std::string> onnx_exportable_types();  // sorted, containers included

// `model` in eval mode; input_shape [1, C, H, W]. Throws naming the first layer that cannot
// be exported (or the opset outside 13..17).
OnnxGraph export_onnx(Module& model, const Shape& input_shape, const OnnxExportOptions& options);

}  // namespace cnn
