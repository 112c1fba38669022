// The graph under construction: unique value names, initializers copied out of tensors.
// (The protobuf serialization is in onnx_writer.cpp.)
#include "apps/onnx_graph.h"

#include <map>
#include <sstream>

#include "core/error.h"

namespace cnn {

OnnxAttribute OnnxAttribute::integer(const std::string& name, int64_t value) {
  OnnxAttribute a;
  a.name = name;
  a.kind = Kind::Int;
  a.i = value;
  return a;
}

OnnxAttribute OnnxAttribute::real(const std::string& name, float value) {
  OnnxAttribute a;
  a.name = name;
  a.kind = Kind::Float;
  a.f = value;
  return a;
}

OnnxAttribute OnnxAttribute::integers(const std::string& name, std::vector<int64_t> values) {
  OnnxAttribute a;
  a.name = name;
  a.kind = Kind::Ints;
  a.ints = std::move(values);
  return a;
}

std::string OnnxGraph::unique(const std::string& hint) {
  std::string name = hint;
  for (int n = 1; names_.count(name); ++n) name = hint + "_" + std::to_string(n);
  names_.insert(name);
  return name;
}

std::string OnnxGraph::add(const std::string& op_type, const std::vector<std::string>& inputs,
                           const std::vector<OnnxAttribute>& attributes, const std::string& hint) {
  OnnxNode node;
  node.op_type = op_type;
  node.name = unique(hint.empty() ? op_type : hint);
  node.inputs = inputs;
  node.outputs = {node.name};
  node.attributes = attributes;
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs[0];
}

std::string OnnxGraph::add_initializer(const std::string& name, const Tensor& tensor) {
  CNN_CHECK(tensor.defined() && tensor.dtype() == DType::Float32, "onnx export: initializer '",
            name, "' must be a float32 tensor");
  CNN_CHECK(!names_.count(name), "onnx export: two values are named '", name, "'");
  names_.insert(name);
  OnnxInitializer init;
  init.name = name;
  init.shape = tensor.shape();
  init.floats = tensor.contiguous().to_vector();
  initializers_.push_back(std::move(init));
  return name;
}

std::string OnnxGraph::add_constant(const std::string& hint, const Shape& shape,
                                    std::vector<float> values) {
  CNN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "onnx export: constant '",
            hint, "' has ", values.size(), " values for shape ", shape_str(shape));
  OnnxInitializer init;
  init.name = unique(hint);
  init.shape = shape;
  init.floats = std::move(values);
  initializers_.push_back(std::move(init));
  return initializers_.back().name;
}

std::string OnnxGraph::add_int64_constant(const std::string& hint, std::vector<int64_t> values) {
  OnnxInitializer init;
  init.name = unique(hint);
  init.shape = {static_cast<int64_t>(values.size())};
  init.is_int64 = true;
  init.int64s = std::move(values);
  initializers_.push_back(std::move(init));
  return initializers_.back().name;
}

std::string OnnxGraph::op_summary() const {
  std::vector<std::string> order;
  std::map<std::string, int> counts;
  for (const OnnxNode& node : nodes_)
    if (counts[node.op_type]++ == 0) order.push_back(node.op_type);
  std::ostringstream out;
  for (size_t i = 0; i < order.size(); ++i)
    out << (i ? ", " : "") << order[i] << " x" << counts[order[i]];
  return out.str();
}

}  // namespace cnn
