// The string registry that lets a YAML config name layers. Each layer registers itself
// from its own .cpp with CNNLAB_REGISTER_LAYER, listing its keys and defaults; the
// builder rejects unknown keys before the factory runs, and the factory reads its keys
// through LayerArgs (the config reader over those keys), whose errors name the key path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "core/random.h"
#include "layers/module.h"

namespace cnn {

// One layer's YAML mapping, its key path ("model.layers[3].conv2d") and the layer's keys: an
// absent key takes the default its KeySpec gives (core/config_reader.h).
class LayerArgs : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;
};

struct BuildContext;
using LayerFactory = std::function<ModulePtr(const LayerArgs& args, BuildContext& context)>;

struct LayerInfo {
  std::string type;     // YAML name, e.g. "conv2d"
  std::string summary;  // one line for `cnnlab layers`
  std::vector<KeySpec> keys;
  LayerFactory make;
  bool is_normalization = false;  // a bias before it is wasted (conv2d's bias: auto)
};

// What a factory knows besides its own keys.
struct BuildContext {
  Shape input_shape;           // with batch dimension, e.g. [1, 3, 32, 32]
  std::string norm = "batch";  // model-level `norm`: batch | group | layer | instance | none
  std::string conv_algorithm = "auto";  // model-level `conv_algorithm` (layers/conv2d.h)
  Generator* generator = nullptr;  // parameter initialisation
  bool next_is_normalization = false;  // the next layer is an active normalization
  std::string path;            // "model.layers[3]"
  // Builds a nested layer list (a residual block's body) from the same context.
  std::function<ModulePtr(const YAML::Node& layers, const Shape& input_shape,
                          const std::string& path)>
      build_sequence;
};

void register_layer(LayerInfo info);
const LayerInfo* find_layer(const std::string& type);
std::vector<const LayerInfo*> registered_layers();  // sorted by type

}  // namespace cnn

#define CNNLAB_CONCAT_INNER(a, b) a##b
#define CNNLAB_CONCAT(a, b) CNNLAB_CONCAT_INNER(a, b)
// Registers a layer at static-initialisation time: CNNLAB_REGISTER_LAYER(LayerInfo{...});
#define CNNLAB_REGISTER_LAYER(...)                                       \
  static const bool CNNLAB_CONCAT(cnnlab_layer_registered_, __LINE__) = \
      (::cnn::register_layer(__VA_ARGS__), true)
