// The model walk of the ONNX export: the registry of layer exporters, the containers
// (Sequential runs its children in order; Residual is Add of body and shortcut, then Relu),
// the normalization nodes in front and the graph's input and output.
#include "apps/onnx_export.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "layers/residual.h"
#include "layers/sequential.h"

namespace cnn {

namespace {

std::map<std::string, OnnxLayerExporter>& exporters() {
  static std::map<std::string, OnnxLayerExporter> table;
  return table;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string child_path(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "." + name;
}

// Adds `module`'s nodes reading `input` (shape `shape`, batch 1); returns the output value.
std::string export_module(Module& module, const std::string& input, const Shape& shape,
                          const std::string& path, OnnxGraph& graph) {
  if (auto* sequence = dynamic_cast<Sequential*>(&module)) {
    std::string value = input;
    Shape current = shape;
    for (const auto& [name, child] : sequence->children()) {
      const std::string where = child_path(path, name);
      value = export_module(*child, value, current, where, graph);
      current = child->output_shape(current);
    }
    return value;
  }
  if (auto* block = dynamic_cast<Residual*>(&module)) {
    const std::string skip = block->shortcut() ? export_module(*block->shortcut(), input, shape,
                                                               child_path(path, "shortcut"), graph)
                                               : input;
    const std::string branch =
        export_module(block->body(), input, shape, child_path(path, "body"), graph);
    const std::string sum = graph.add("Add", {branch, skip}, {}, path + "/Add");
    return block->relu_after() ? graph.add("Relu", {sum}, {}, path + "/Relu") : sum;
  }
  const std::string where = "layer " + path + " (" + module.describe() + ")";
  auto found = exporters().find(module.type());
  CNN_CHECK(found != exporters().end(), "onnx export: ", where, ": the layer type '", module.type(),
            "' has no ONNX mapping (exportable types: ", join(onnx_exportable_types()),
            "); replace it, or register an exporter for it (apps/onnx_export.h)");
  OnnxLayerContext context{graph, path, shape, where};
  return found->second(module, input, context);
}

}  // namespace

void register_onnx_exporter(const std::string& type, OnnxLayerExporter exporter) {
  exporters()[type] = std::move(exporter);
}

std::vector<std::string> onnx_exportable_types() {
  std::vector<std::string> types{"residual", "sequential"};
  for (const auto& [type, exporter] : exporters()) types.push_back(type);
  std::sort(types.begin(), types.end());
  return types;
}

OnnxGraph export_onnx(Module& model, const Shape& input_shape, const OnnxExportOptions& options) {
  CNN_CHECK(options.opset >= kOnnxMinOpset && options.opset <= kOnnxMaxOpset, "onnx export: opset ",
            options.opset, " is not supported; choose one from ", kOnnxMinOpset, " to ",
            kOnnxMaxOpset);
  CNN_CHECK(!model.training(),
            "onnx export: the model is in training mode; call eval() first (the export is of "
            "the inference graph: running statistics, no dropout)");
  CNN_CHECK(input_shape.size() >= 2 && input_shape[0] == 1,
            "onnx export: expected an input shape [1, C, ...], found ", shape_str(input_shape));
  const Shape output_shape = model.output_shape(input_shape);

  OnnxGraph graph(options.opset);
  Shape dynamic_input = input_shape;
  dynamic_input[0] = -1;
  graph.add_input(options.input_name, dynamic_input);

  std::string value = options.input_name;
  const Normalization& norm = options.normalization;
  if (norm.enabled()) {
    CNN_CHECK(
        norm.mean.size() == norm.std.size() &&
            (norm.mean.size() == 1 || static_cast<int64_t>(norm.mean.size()) == input_shape[1]),
        "onnx export: the normalization has ", norm.mean.size(), " means and ", norm.std.size(),
        " standard deviations for ", input_shape[1], " input channels");
    Shape per_channel(input_shape.size(), 1);
    per_channel[1] = static_cast<int64_t>(norm.mean.size());
    const std::string mean = graph.add_constant("normalize.mean", per_channel, norm.mean);
    const std::string stddev = graph.add_constant("normalize.std", per_channel, norm.std);
    value = graph.add("Sub", {value, mean}, {}, "normalize/Sub");
    value = graph.add("Div", {value, stddev}, {}, "normalize/Div");
  }
  value = export_module(model, value, input_shape, "", graph);

  // The last value becomes the graph's named output.
  Shape dynamic_output = output_shape;
  if (!dynamic_output.empty()) dynamic_output[0] = -1;
  graph.add_output(graph.add("Identity", {value}, {}, options.output_name), dynamic_output);
  return graph;
}

}  // namespace cnn
