// Config -> model: type lookup, key validation, shape propagation, conv bias "auto".
#include "layers/builder.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "layers/init_scale.h"
#include "layers/registry.h"

namespace cnn {

namespace {
const std::vector<std::string> kNormChoices = {"batch", "syncbatch", "group", "layer", "instance", "none"};
// layers/conv2d.h's conv_algorithm_names(), spelled here: the builder knows no layer type.
const std::vector<std::string> kConvAlgorithms = {"auto", "winograd", "direct", "im2col",
                                                  "onednn"};
}  // namespace

bool is_valid_norm_choice(const std::string& norm) {
  return std::find(kNormChoices.begin(), kNormChoices.end(), norm) != kNormChoices.end();
}

const std::vector<KeySpec>& model_keys() {
  static const std::vector<KeySpec> keys = {
      {"norm", "batch", "what each `norm` layer becomes: batch | syncbatch (batch statistics over every process of a data-parallel run) | group | layer | instance | none"},
      {"layers", "required",
       "the list of layers, e.g. - conv2d: {out_channels: 32, kernel_size: 3}"},
      {"conv_algorithm", "auto",
       "the convolutions' kernel: auto (by geometry; oneDNN in bf16) | winograd | direct | "
       "im2col | onednn (each where it can run, im2col elsewhere; docs/numerics.md)"},
      {"init_scale", "1",
       "multiplies every conv2d/linear weight after its init (the study's x0.1/x1/x10; "
       "biases and norm weights untouched), in [0.001, 1000]"}};
  return keys;
}

namespace {

// "- conv2d: {...}" -> ("conv2d", {...}); errors name the list index.
std::pair<std::string, YAML::Node> split_item(const YAML::Node& item, const std::string& path) {
  CNN_CHECK(item.IsMap() && item.size() == 1, path,
            ": expected one layer type as the key, e.g. '- conv2d: {out_channels: 32, "
            "kernel_size: 3}'");
  auto it = item.begin();
  return {it->first.as<std::string>(), it->second};
}

std::string known_types() {
  std::ostringstream out;
  bool first = true;
  for (const LayerInfo* info : registered_layers()) {
    out << (first ? "" : ", ") << info->type;
    first = false;
  }
  return out.str();
}

// The layer's arguments: a mapping (or nothing, `- relu:`) of the keys its type registered.
LayerArgs layer_args(const LayerInfo& info, const YAML::Node& args, const std::string& path) {
  if (!args.IsDefined() || args.IsNull())
    return LayerArgs(YAML::Node(YAML::NodeType::Map), path, info.keys);
  CNN_CHECK(args.IsMap(), path, ": expected a mapping of keys (or {}), found a ",
            args.IsSequence() ? "list" : "scalar");
  LayerArgs reader(args, path, info.keys);
  reader.check_known_keys(info.type);
  return reader;
}

bool is_active_normalization(const std::string& type, const std::string& norm) {
  if (type == "norm") return norm != "none";
  const LayerInfo* info = find_layer(type);
  return info && info->is_normalization;
}

}  // namespace

std::shared_ptr<Sequential> build_sequence(const YAML::Node& layers, const Shape& input_shape,
                                           const std::string& norm, Generator& generator,
                                           const std::string& path,
                                           const std::string& conv_algorithm) {
  CNN_CHECK(layers.IsDefined() && layers.IsSequence(), path,
            ": expected a list of layers, e.g. '- conv2d: {out_channels: 32, kernel_size: 3}'");
  auto model = std::make_shared<Sequential>();
  Shape shape = input_shape;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string item_path = path + "[" + std::to_string(i) + "]";
    auto [type, args] = split_item(layers[i], item_path);
    const LayerInfo* info = find_layer(type);
    CNN_CHECK(info, item_path, ": unknown layer type '", type, "' (known types: ", known_types(),
              "; `cnnlab layers` lists them with their keys)");
    const LayerArgs arguments = layer_args(*info, args, item_path + "." + type);

    BuildContext context;
    context.input_shape = shape;
    context.norm = norm;
    context.conv_algorithm = conv_algorithm;
    context.generator = &generator;
    context.path = item_path;
    if (i + 1 < layers.size()) {
      auto [next_type, next_args] = split_item(layers[i + 1], path + "[" + std::to_string(i + 1) + "]");
      context.next_is_normalization = is_active_normalization(next_type, norm);
    }
    context.build_sequence = [&norm, &generator, &conv_algorithm](
                                 const YAML::Node& body, const Shape& in,
                                 const std::string& body_path) -> ModulePtr {
      return build_sequence(body, in, norm, generator, body_path, conv_algorithm);
    };

    ModulePtr layer;
    try {
      layer = info->make(arguments, context);
      shape = layer->output_shape(shape);
    } catch (const Error& e) {
      std::string message = e.what();
      if (message.rfind(path, 0) == 0) throw;  // already names its key path
      CNN_FAIL(item_path, " (", type, ", input ", shape_str(shape), "): ", message);
    }
    model->append(layer);
  }
  return model;
}

std::shared_ptr<Sequential> build_model(const YAML::Node& model, const Shape& input_shape,
                                        Generator& generator, const std::string& path) {
  CNN_CHECK(model.IsDefined() && model.IsMap(), path, ": expected a mapping with 'layers'");
  const ConfigReader reader(model, path, model_keys());
  const std::string norm = reader.get_choice("norm", kNormChoices);
  const std::string conv_algorithm = reader.get_choice("conv_algorithm", kConvAlgorithms);
  const double init_scale = reader.get_double("init_scale");
  CNN_CHECK(std::isfinite(init_scale) && init_scale >= kMinInitScale && init_scale <= kMaxInitScale,
            path, ".init_scale: expected a factor in [", kMinInitScale, ", ", kMaxInitScale,
            "] (1 = the layers' own init), found ", init_scale);
  std::shared_ptr<Sequential> built = build_sequence(model["layers"], input_shape, norm, generator,
                                                     path + ".layers", conv_algorithm);
  if (init_scale != 1.0) scale_initial_weights(*built, static_cast<float>(init_scale));
  return built;
}

}  // namespace cnn
