// Builds a model from the `model:` section of a config:
//   model: {norm: batch, layers: [{conv2d: {out_channels: 32, kernel_size: 3}}, ...]}
// Each layer is checked (type known, keys known, input shape fits) before any training.
#pragma once

#include <yaml-cpp/yaml.h>

#include "core/config_reader.h"
#include "core/random.h"
#include "layers/sequential.h"

namespace cnn {

// The normalization choices of the model-level `norm` key.
bool is_valid_norm_choice(const std::string& norm);

// The keys of the `model:` section (norm, with its default, and layers).
const std::vector<KeySpec>& model_keys();

// `model` is the mapping with `layers` (and optionally `norm`); input_shape has the
// batch dimension ([1, 3, 32, 32]). `path` prefixes error messages.
std::shared_ptr<Sequential> build_model(const YAML::Node& model, const Shape& input_shape,
                                        Generator& generator,
                                        const std::string& path = "model");

// A layer list with an explicit context (used by build_model and by containers).
std::shared_ptr<Sequential> build_sequence(const YAML::Node& layers, const Shape& input_shape,
                                           const std::string& norm, Generator& generator,
                                           const std::string& path,
                                           const std::string& conv_algorithm = "auto");

}  // namespace cnn
