// OnnxGraph -> bytes of an ONNX ModelProto, through the ONNX project's own generated protobuf
// classes (Debian's libonnx-dev), so the encoding is the one ONNX tools read by construction.
#include <onnx/onnx_pb.h>

#include "apps/onnx_graph.h"
#include "core/atomic_file.h"
#include "core/error.h"

#ifndef CNNLAB_VERSION
#define CNNLAB_VERSION "unknown"
#endif

namespace cnn {

namespace {

// float32 [dims], the negative dimension as the symbolic "batch".
void set_value_info(onnx::ValueInfoProto& info, const OnnxValueInfo& value) {
  info.set_name(value.name);
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tensor->mutable_shape();
  for (int64_t d : value.shape) {
    auto* dim = shape->add_dim();
    if (d < 0)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
  }
}

void set_attribute(onnx::AttributeProto& proto, const OnnxAttribute& attribute) {
  proto.set_name(attribute.name);
  switch (attribute.kind) {
    case OnnxAttribute::Kind::Int:
      proto.set_type(onnx::AttributeProto::INT);
      proto.set_i(attribute.i);
      break;
    case OnnxAttribute::Kind::Float:
      proto.set_type(onnx::AttributeProto::FLOAT);
      proto.set_f(attribute.f);
      break;
    case OnnxAttribute::Kind::Ints:
      proto.set_type(onnx::AttributeProto::INTS);
      for (int64_t v : attribute.ints) proto.add_ints(v);
      break;
  }
}

// raw_data holds the values little-endian, as ONNX requires (this is an x86/ARM LE build).
void set_initializer(onnx::TensorProto& proto, const OnnxInitializer& init) {
  proto.set_name(init.name);
  for (int64_t d : init.shape) proto.add_dims(d);
  if (init.is_int64) {
    proto.set_data_type(onnx::TensorProto::INT64);
    proto.set_raw_data(std::string(reinterpret_cast<const char*>(init.int64s.data()),
                                   init.int64s.size() * sizeof(int64_t)));
  } else {
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.set_raw_data(std::string(reinterpret_cast<const char*>(init.floats.data()),
                                   init.floats.size() * sizeof(float)));
  }
}

}  // namespace

std::string serialize_onnx_model(const OnnxGraph& graph, const std::string& graph_name) {
  onnx::ModelProto model;
  model.set_ir_version(8);  // ONNX 1.10 .. 1.12, opsets up to 17
  model.set_producer_name("cnnlab");
  model.set_producer_version(CNNLAB_VERSION);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(graph.opset());
  onnx::GraphProto* proto = model.mutable_graph();
  proto->set_name(graph_name);
  for (const OnnxNode& node : graph.nodes()) {
    onnx::NodeProto* n = proto->add_node();
    n->set_op_type(node.op_type);
    n->set_name(node.name);
    for (const std::string& input : node.inputs) n->add_input(input);
    for (const std::string& output : node.outputs) n->add_output(output);
    for (const OnnxAttribute& attribute : node.attributes)
      set_attribute(*n->add_attribute(), attribute);
  }
  for (const OnnxInitializer& init : graph.initializers())
    set_initializer(*proto->add_initializer(), init);
  for (const OnnxValueInfo& input : graph.inputs()) set_value_info(*proto->add_input(), input);
  for (const OnnxValueInfo& output : graph.outputs()) set_value_info(*proto->add_output(), output);
  std::string bytes;
  CNN_CHECK(model.SerializeToString(&bytes),
            "onnx export: protobuf could not serialize the model '", graph_name, "' (over 2 GiB?)");
  return bytes;
}

void write_onnx_model(const OnnxGraph& graph, const std::string& graph_name,
                      const std::string& path) {
  write_file_atomically(path, serialize_onnx_model(graph, graph_name), "ONNX model");
}

}  // namespace cnn
