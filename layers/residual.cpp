// Residual block: the sum and the activation are core ops (add, or add_relu fused), so the block needs
// no backward of its own; the shortcut is chosen from the body's output shape at build time.
// Evaluation's fusions of a block (the sum written by the body's last conv, a basic block run
// image by image) are steps layers/fusion.cpp installs in the enclosing Sequential.
#include "layers/residual.h"

#include <sstream>

#include "core/ops.h"
#include "layers/registry.h"

namespace cnn {

Residual::Residual(ModulePtr body, ModulePtr shortcut, bool relu_after)
    : body_(std::move(body)), shortcut_(std::move(shortcut)), relu_after_(relu_after) {
  CNN_CHECK(body_, "residual: the body is missing");
  register_module("body", body_);
  if (shortcut_) register_module("shortcut", shortcut_);
}

void Residual::check_sum_shapes(const Shape& branch, const Shape& skip, const Shape& input) const {
  CNN_CHECK(branch == skip, describe(), ": the body gives ", shape_str(branch),
            " but the shortcut gives ", shape_str(skip), " for input ", shape_str(input));
}

Tensor Residual::forward(const Tensor& input) {
  Tensor skip = shortcut_ ? shortcut_->forward(input) : input;
  Tensor branch = body_->forward(input);
  check_sum_shapes(branch.shape(), skip.shape(), input.shape());
  return relu_after_ ? add_relu(branch, skip) : add(branch, skip);
}

Shape Residual::output_shape(const Shape& input) const {
  const Shape branch = body_->output_shape(input);
  const Shape skip = shortcut_ ? shortcut_->output_shape(input) : input;
  CNN_CHECK(branch == skip, describe(), ": the body maps ", shape_str(input), " to ",
            shape_str(branch), " but the shortcut to ", shape_str(skip),
            " (use shortcut: conv or auto when the body changes the shape)");
  return branch;
}

std::string Residual::describe() const {
  std::ostringstream out;
  out << "residual(body: " << body_->children().size() << " layers, shortcut: ";
  if (!shortcut_) {
    out << "identity";
  } else {
    bool first = true;
    for (const auto& [name, child] : shortcut_->children()) {
      out << (first ? "" : " + ") << child->describe();
      first = false;
    }
  }
  out << ", activation: " << (relu_after_ ? "relu" : "none") << ")";
  return out.str();
}

namespace {

// The projection shortcut: a 1x1 conv with the stride that maps the input's H, W to the
// body's, then the model's normalization (through the `norm` layer type, which follows
// the model-level `norm`; with norm: none the conv stands alone and keeps its bias).
ModulePtr make_projection(const Shape& in, const Shape& out, BuildContext& context,
                          const std::string& path) {
  CNN_CHECK(out.size() == 4 && out[2] >= 1 && out[3] >= 1, path,
            ": a conv shortcut needs the body to output [N, C, H, W], got ", shape_str(out));
  const int64_t stride_h = (in[2] + out[2] - 1) / out[2];
  const int64_t stride_w = (in[3] + out[3] - 1) / out[3];
  CNN_CHECK((in[2] - 1) / stride_h + 1 == out[2] && (in[3] - 1) / stride_w + 1 == out[3], path,
            ": no 1x1 convolution stride maps the input ", shape_str(in), " to the body's output ",
            shape_str(out), "; give the body a shape a strided shortcut can match");
  YAML::Node conv;
  conv["out_channels"] = out[1];
  conv["kernel_size"] = 1;
  YAML::Node stride(YAML::NodeType::Sequence);
  stride.push_back(stride_h);
  stride.push_back(stride_w);
  conv["stride"] = stride;
  YAML::Node layers(YAML::NodeType::Sequence);
  YAML::Node conv_item;
  conv_item["conv2d"] = conv;
  layers.push_back(conv_item);
  if (context.norm != "none") {
    YAML::Node norm_item;
    norm_item["norm"] = YAML::Node(YAML::NodeType::Map);
    layers.push_back(norm_item);
  }
  return context.build_sequence(layers, in, path);
}

ModulePtr make_residual(const LayerArgs& args, BuildContext& context) {
  const Shape& in = context.input_shape;
  CNN_CHECK(args.has("body"), args.key_path("body"),
            ": this key is required (the residual branch, a list of layers)");
  CNN_CHECK(context.build_sequence, "residual: the build context cannot build a body");
  ModulePtr body = context.build_sequence(args.get_node("body"), in, args.key_path("body"));
  const Shape out = body->output_shape(in);

  const std::string shortcut = args.get_string("shortcut");
  CNN_CHECK(shortcut == "auto" || shortcut == "identity" || shortcut == "conv",
            args.key_path("shortcut"), ": expected auto, identity or conv, found '", shortcut,
            "'");
  ModulePtr projection;
  if (shortcut == "conv" || (shortcut == "auto" && out != in)) {
    CNN_CHECK(in.size() == 4, args.key_path("shortcut"),
              ": a conv shortcut needs a 4-d input [N, C, H, W], got ", shape_str(in));
    projection = make_projection(in, out, context, args.key_path("shortcut"));
  } else {
    CNN_CHECK(out == in, args.key_path("shortcut"), ": identity needs the body to keep the shape, "
              "but it maps ", shape_str(in), " to ", shape_str(out),
              " (use shortcut: auto or conv)");
  }

  const std::string activation = args.get_string("activation");
  CNN_CHECK(activation == "relu" || activation == "none", args.key_path("activation"),
            ": expected relu or none, found '", activation, "'");
  return std::make_shared<Residual>(body, projection, activation == "relu");
}

CNNLAB_REGISTER_LAYER(LayerInfo{
    "residual",
    "y = activation(body(x) + shortcut(x)), a ResNet block",
    {{"body", "required", "list of layers (the residual branch)"},
     {"shortcut", "auto", "auto (identity if the shape is kept, else 1x1 conv + norm), "
                          "identity or conv"},
     {"activation", "relu", "relu or none, after the sum"}},
    make_residual});

}  // namespace

}  // namespace cnn
