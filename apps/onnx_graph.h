// An ONNX graph under construction, without protobuf types: nodes, initializers (float32 or
// int64 constants) and the graph's input and output, then written as an ONNX ModelProto
// (IR version 8) by write_onnx_model. The layer exporters of apps/onnx_export.h add to it.
//
//   OnnxGraph graph(17);
//   std::string y = graph.add("Relu", {x});
//   std::string w = graph.add_initializer("3.weight", conv.weight());
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cnn {

struct OnnxAttribute {
  enum class Kind { Int, Float, Ints };
  std::string name;
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0.0f;
  std::vector<int64_t> ints;

  static OnnxAttribute integer(const std::string& name, int64_t value);
  static OnnxAttribute real(const std::string& name, float value);
  static OnnxAttribute integers(const std::string& name, std::vector<int64_t> values);
};

struct OnnxNode {
  std::string op_type, name;
  std::vector<std::string> inputs, outputs;
  std::vector<OnnxAttribute> attributes;
};

struct OnnxInitializer {
  std::string name;
  Shape shape;
  bool is_int64 = false;
  std::vector<float> floats;    // float32 values, row-major
  std::vector<int64_t> int64s;  // int64 values (shapes, axes)
};

// A graph value's declared type: float32 of this shape, where a negative dimension is the
// symbolic batch dimension "batch".
struct OnnxValueInfo {
  std::string name;
  Shape shape;
};

class OnnxGraph {
 public:
  explicit OnnxGraph(int64_t opset) : opset_(opset) {}
  int64_t opset() const { return opset_; }

  // Adds a node with one output, named after the node (`hint`, else the op type, made
  // unique), and returns the output's name.
  std::string add(const std::string& op_type, const std::vector<std::string>& inputs,
                  const std::vector<OnnxAttribute>& attributes = {}, const std::string& hint = "");
  // A float32 initializer holding `tensor` (contiguous copy) under exactly `name`: the
  // PyTorch state-dict name for a layer's weights. Names must be unique.
  std::string add_initializer(const std::string& name, const Tensor& tensor);
  // Constants the graph needs besides the weights (made-unique names from `hint`).
  std::string add_constant(const std::string& hint, const Shape& shape, std::vector<float> values);
  std::string add_int64_constant(const std::string& hint, std::vector<int64_t> values);

  void add_input(const std::string& name, const Shape& shape) { inputs_.push_back({name, shape}); }
  void add_output(const std::string& name, const Shape& shape) {
    outputs_.push_back({name, shape});
  }

  const std::vector<OnnxNode>& nodes() const { return nodes_; }
  const std::vector<OnnxInitializer>& initializers() const { return initializers_; }
  const std::vector<OnnxValueInfo>& inputs() const { return inputs_; }
  const std::vector<OnnxValueInfo>& outputs() const { return outputs_; }
  // "Conv x6, Relu x6, ..." in order of first use.
  std::string op_summary() const;

 private:
  std::string unique(const std::string& hint);
  int64_t opset_;
  std::vector<OnnxNode> nodes_;
  std::vector<OnnxInitializer> initializers_;
  std::vector<OnnxValueInfo> inputs_, outputs_;
  std::set<std::string> names_;  // every value name used so far
};

// Serializes `graph` as an ONNX ModelProto (IR version 8, the default domain at the graph's
// opset, producer cnnlab) into bytes, or writes it to `path` atomically.
std::string serialize_onnx_model(const OnnxGraph& graph, const std::string& graph_name);
void write_onnx_model(const OnnxGraph& graph, const std::string& graph_name,
                      const std::string& path);

}  // namespace cnn
