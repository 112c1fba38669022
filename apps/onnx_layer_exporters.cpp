// The ONNX mapping of each built-in layer type, registered with the export (apps/onnx_export.h).
// Opsets 13..17: GELU is written with Erf (the Gelu op is opset 20); GroupNorm as an
// InstanceNormalization over [N, G, C/G*H*W] and a per-channel affine; LayerNorm as
// LayerNormalization from opset 17 and as its mean/variance formula before. Dropout and
// identity add no node.
#include <cmath>

#include "apps/onnx_export.h"
#include "core/error.h"
#include "layers/activations.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/groupnorm.h"
#include "layers/instancenorm.h"
#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/pool2d.h"

namespace cnn {

namespace {

using A = OnnxAttribute;

template <class Layer>
Layer& as(Module& layer, const OnnxLayerContext& context) {
  auto* typed = dynamic_cast<Layer*>(&layer);
  CNN_CHECK(typed, "onnx export: ", context.where, ": the exporter of '", layer.type(),
            "' expected cnnlab's own class for it");
  return *typed;
}

// A tensor of the layer, or `fill` values of `shape` when the layer has none (no affine).
std::string tensor_or(OnnxLayerContext& c, Tensor& tensor, const std::string& name,
                      const Shape& shape, float fill) {
  if (tensor.defined()) return c.graph.add_initializer(c.name(name), tensor);
  return c.graph.add_constant(c.name(name) + "(" + (fill == 1.0f ? "ones" : "zeros") + ")", shape,
                              std::vector<float>(shape_numel(shape), fill));
}

// [C] viewed as [C, 1, ...] to broadcast over the positions of an input of `rank`.
std::string per_channel(OnnxLayerContext& c, const std::string& value, int64_t channels,
                        size_t rank) {
  if (rank <= 2) return value;
  std::vector<int64_t> shape(rank - 1, 1);
  shape[0] = channels;
  return c.graph.add("Reshape", {value, c.graph.add_int64_constant(c.path + "/shape", shape)}, {},
                     c.path + "/Reshape");
}

std::string export_conv2d(Module& layer, const std::string& x, OnnxLayerContext& c) {
  Conv2d& conv = as<Conv2d>(layer, c);
  const Conv2dOptions& o = conv.options();
  std::vector<std::string> inputs{x, c.graph.add_initializer(c.name("weight"), conv.weight())};
  if (conv.bias().defined()) inputs.push_back(c.graph.add_initializer(c.name("bias"), conv.bias()));
  return c.graph.add(
      "Conv", inputs,
      {A::integers("kernel_shape", {o.kernel_size.first, o.kernel_size.second}),
       A::integers("strides", {o.stride.first, o.stride.second}),
       A::integers("pads", {o.padding.first, o.padding.second, o.padding.first, o.padding.second}),
       A::integers("dilations", {o.dilation.first, o.dilation.second}),
       A::integer("group", o.groups)},
      c.path);
}

// Running statistics: BatchNormalization (inference form, training_mode 0).
std::string batch_normalization(OnnxLayerContext& c, const std::string& x, int64_t channels,
                                Tensor& weight, Tensor& bias, Tensor& mean, Tensor& var,
                                float eps) {
  return c.graph.add("BatchNormalization",
                     {x, tensor_or(c, weight, "weight", {channels}, 1.0f),
                      tensor_or(c, bias, "bias", {channels}, 0.0f),
                      c.graph.add_initializer(c.name("running_mean"), mean),
                      c.graph.add_initializer(c.name("running_var"), var)},
                     {A::real("epsilon", eps)}, c.path);
}

std::string export_batchnorm(Module& layer, const std::string& x, OnnxLayerContext& c) {
  BatchNorm& bn = as<BatchNorm>(layer, c);
  CNN_CHECK(bn.track_running_stats(), "onnx export: ", c.where,
            ": track_running_stats is false, so it normalizes every batch with that batch's own "
            "statistics, in evaluation too; an inference graph needs fixed statistics (train "
            "with track_running_stats: true)");
  return batch_normalization(c, x, bn.options().num_features, bn.weight(), bn.bias(),
                             bn.running_mean(), bn.running_var(), bn.eps());
}

std::string export_instancenorm(Module& layer, const std::string& x, OnnxLayerContext& c) {
  InstanceNorm2d& in = as<InstanceNorm2d>(layer, c);
  const InstanceNormOptions& o = in.options();
  // With running statistics, evaluation normalizes with them: a batch norm's affine.
  if (o.track_running_stats)
    return batch_normalization(c, x, o.num_features, in.weight(), in.bias(), in.running_mean(),
                               in.running_var(), o.eps);
  return c.graph.add("InstanceNormalization",
                     {x, tensor_or(c, in.weight(), "weight", {o.num_features}, 1.0f),
                      tensor_or(c, in.bias(), "bias", {o.num_features}, 0.0f)},
                     {A::real("epsilon", o.eps)}, c.path);
}

// [N, C, ...] -> [N, G, C/G * ...], instance-normalized per (sample, group), back to
// [N, C, ...], then the per-channel affine.
std::string export_groupnorm(Module& layer, const std::string& x, OnnxLayerContext& c) {
  GroupNorm& gn = as<GroupNorm>(layer, c);
  const int64_t groups = gn.num_groups(), channels = gn.options().num_channels;
  OnnxGraph& g = c.graph;
  std::string grouped =
      g.add("Reshape", {x, g.add_int64_constant(c.path + "/groups", {0, groups, -1})}, {},
            c.path + "/Reshape_groups");
  std::string normalized =
      g.add("InstanceNormalization",
            {grouped, g.add_constant(c.path + "/ones", {groups}, std::vector<float>(groups, 1.0f)),
             g.add_constant(c.path + "/zeros", {groups}, std::vector<float>(groups, 0.0f))},
            {A::real("epsilon", gn.options().eps)}, c.path + "/InstanceNormalization");
  std::vector<int64_t> shape(c.input_shape.begin(), c.input_shape.end());
  shape[0] = 0;  // the batch: copied from the input
  std::string y =
      g.add("Reshape", {normalized, g.add_int64_constant(c.path + "/shape_back", shape)}, {},
            c.path + "/Reshape_back");
  const size_t rank = c.input_shape.size();
  if (gn.weight().defined())
    y = g.add("Mul",
              {y, per_channel(c, g.add_initializer(c.name("weight"), gn.weight()), channels, rank)},
              {}, c.path + "/Mul");
  if (gn.bias().defined())
    y = g.add("Add",
              {y, per_channel(c, g.add_initializer(c.name("bias"), gn.bias()), channels, rank)}, {},
              c.path + "/Add");
  return y;
}

// Each sample over all its values, the affine of the per-sample shape.
std::string export_layernorm(Module& layer, const std::string& x, OnnxLayerContext& c) {
  LayerNorm& ln = as<LayerNorm>(layer, c);
  const Shape& normalized = ln.options().normalized_shape;
  OnnxGraph& g = c.graph;
  const float eps = ln.options().eps;
  if (g.opset() >= 17)
    return g.add("LayerNormalization",
                 {x, tensor_or(c, ln.weight(), "weight", normalized, 1.0f),
                  tensor_or(c, ln.bias(), "bias", normalized, 0.0f)},
                 {A::integer("axis", 1), A::real("epsilon", eps)}, c.path);
  // Before opset 17: y = (x - mean) / sqrt(var + eps) * weight + bias, var biased.
  std::vector<int64_t> axes;
  for (size_t d = 1; d < c.input_shape.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  const std::vector<A> reduce{A::integers("axes", axes), A::integer("keepdims", 1)};
  std::string mean = g.add("ReduceMean", {x}, reduce, c.path + "/ReduceMean");
  std::string centred = g.add("Sub", {x, mean}, {}, c.path + "/Sub");
  std::string square = g.add("Mul", {centred, centred}, {}, c.path + "/Square");
  std::string var = g.add("ReduceMean", {square}, reduce, c.path + "/ReduceMean_var");
  std::string shifted =
      g.add("Add", {var, g.add_constant(c.path + "/eps", {}, {eps})}, {}, c.path + "/Add_eps");
  std::string y =
      g.add("Div", {centred, g.add("Sqrt", {shifted}, {}, c.path + "/Sqrt")}, {}, c.path + "/Div");
  if (ln.weight().defined())
    y = g.add("Mul", {y, g.add_initializer(c.name("weight"), ln.weight())}, {}, c.path + "/Mul");
  if (ln.bias().defined())
    y = g.add("Add", {y, g.add_initializer(c.name("bias"), ln.bias())}, {}, c.path + "/Add");
  return y;
}

std::string export_linear(Module& layer, const std::string& x, OnnxLayerContext& c) {
  Linear& linear = as<Linear>(layer, c);
  OnnxGraph& g = c.graph;
  const std::string weight = g.add_initializer(c.name("weight"), linear.weight());
  const std::string bias =
      linear.bias().defined() ? g.add_initializer(c.name("bias"), linear.bias()) : "";
  if (c.input_shape.size() == 2) {
    std::vector<std::string> inputs{x, weight};
    if (!bias.empty()) inputs.push_back(bias);
    return g.add("Gemm", inputs, {A::integer("transB", 1)}, c.path);
  }
  // [..., F] x W^T: MatMul broadcasts over the leading dimensions.
  std::string y =
      g.add("MatMul",
            {x, g.add("Transpose", {weight}, {A::integers("perm", {1, 0})}, c.path + "/Transpose")},
            {}, c.path + "/MatMul");
  return bias.empty() ? y : g.add("Add", {y, bias}, {}, c.path + "/Add");
}

// flatten as ONNX Flatten(axis 1) when it is [N, C, ...] -> [N, C*...], else a Reshape to
// its output shape (the batch copied, or merged into a -1).
std::string export_flatten(Module& layer, const std::string& x, OnnxLayerContext& c) {
  const Shape out = layer.output_shape(c.input_shape);
  Shape two = c.input_shape;
  two[0] = 2;
  const Shape out_two = layer.output_shape(two);
  const bool keeps_batch = !out_two.empty() && out_two[0] == 2;
  if (keeps_batch && out.size() == 2)
    return c.graph.add("Flatten", {x}, {A::integer("axis", 1)}, c.path);
  std::vector<int64_t> shape(out.begin(), out.end());
  if (keeps_batch) {
    shape[0] = 0;
  } else {
    for (size_t d = 0; d < shape.size(); ++d)
      if (out_two[d] != out[d]) shape[d] = -1;  // the dimension the batch went into
  }
  return c.graph.add("Reshape", {x, c.graph.add_int64_constant(c.path + "/shape", shape)}, {},
                     c.path);
}

std::vector<A> pool_attributes(const Pool2dOptions& o) {
  return {
      A::integers("kernel_shape", {o.kernel_size.first, o.kernel_size.second}),
      A::integers("strides", {o.stride.first, o.stride.second}),
      A::integers("pads", {o.padding.first, o.padding.second, o.padding.first, o.padding.second}),
      A::integer("ceil_mode", o.ceil_mode ? 1 : 0)};
}

std::string export_maxpool2d(Module& layer, const std::string& x, OnnxLayerContext& c) {
  return c.graph.add("MaxPool", {x}, pool_attributes(as<MaxPool2d>(layer, c).options()), c.path);
}

std::string export_avgpool2d(Module& layer, const std::string& x, OnnxLayerContext& c) {
  const Pool2dOptions& o = as<AvgPool2d>(layer, c).options();
  std::vector<A> attributes = pool_attributes(o);
  attributes.push_back(A::integer("count_include_pad", o.count_include_pad ? 1 : 0));
  return c.graph.add("AveragePool", {x}, attributes, c.path);
}

std::string export_activation(Module& layer, const std::string& x, OnnxLayerContext& c) {
  Activation& activation = as<Activation>(layer, c);
  OnnxGraph& g = c.graph;
  switch (activation.kind()) {
    case Activation::Kind::ReLU:
      return g.add("Relu", {x}, {}, c.path);
    case Activation::Kind::LeakyReLU:
      return g.add("LeakyRelu", {x}, {A::real("alpha", activation.parameter())}, c.path);
    case Activation::Kind::ELU:
      return g.add("Elu", {x}, {A::real("alpha", activation.parameter())}, c.path);
    case Activation::Kind::Sigmoid:
      return g.add("Sigmoid", {x}, {}, c.path);
    case Activation::Kind::Tanh:
      return g.add("Tanh", {x}, {}, c.path);
    case Activation::Kind::SiLU:
      return g.add("Mul", {x, g.add("Sigmoid", {x}, {}, c.path + "/Sigmoid")}, {}, c.path);
    case Activation::Kind::GELU: {
      // The exact form PyTorch's default uses: x * 0.5 * (1 + erf(x / sqrt(2))).
      std::string scaled =
          g.add("Div", {x, g.add_constant(c.path + "/sqrt2", {}, {std::sqrt(2.0f)})}, {},
                c.path + "/Div");
      std::string plus_one = g.add("Add",
                                   {g.add("Erf", {scaled}, {}, c.path + "/Erf"),
                                    g.add_constant(c.path + "/one", {}, {1.0f})},
                                   {}, c.path + "/Add");
      std::string product = g.add("Mul", {x, plus_one}, {}, c.path + "/Mul");
      return g.add("Mul", {product, g.add_constant(c.path + "/half", {}, {0.5f})}, {}, c.path);
    }
  }
  CNN_FAIL("onnx export: ", c.where, ": unknown activation kind");
}

std::string pass_through(Module&, const std::string& x, OnnxLayerContext&) { return x; }

std::string export_global_avgpool2d(Module&, const std::string& x, OnnxLayerContext& c) {
  return c.graph.add("GlobalAveragePool", {x}, {}, c.path);
}

const bool registered = [] {
  register_onnx_exporter("conv2d", export_conv2d);
  register_onnx_exporter("batchnorm2d", export_batchnorm);
  register_onnx_exporter("batchnorm1d", export_batchnorm);
  register_onnx_exporter("instancenorm2d", export_instancenorm);
  register_onnx_exporter("groupnorm", export_groupnorm);
  register_onnx_exporter("layernorm", export_layernorm);
  register_onnx_exporter("linear", export_linear);
  register_onnx_exporter("flatten", export_flatten);
  register_onnx_exporter("maxpool2d", export_maxpool2d);
  register_onnx_exporter("avgpool2d", export_avgpool2d);
  register_onnx_exporter("global_avgpool2d", export_global_avgpool2d);
  for (const char* type : {"relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "silu"})
    register_onnx_exporter(type, export_activation);
  register_onnx_exporter("dropout", pass_through);   // inference: the identity
  register_onnx_exporter("identity", pass_through);  // also a BN folded away
  return true;
}();

}  // namespace

}  // namespace cnn
