// Listing of the layer registry.
#include "apps/layers_command.h"

#include <iomanip>

#include "layers/builder.h"
#include "layers/registry.h"

namespace cnn {

void print_layers(std::ostream& out) {
  out << "Layer types (use as '- TYPE: {key: value, ...}' under model.layers):\n";
  for (const LayerInfo* info : registered_layers()) {
    out << "\n" << info->type << (info->is_normalization ? "  [normalization]" : "") << "\n  "
        << info->summary << "\n";
    if (info->keys.empty()) out << "    (no keys)\n";
    for (const KeySpec& key : info->keys)
      out << "    " << std::left << std::setw(22) << key.name << std::setw(12)
          << (key.default_value.empty() ? "required" : key.default_value) << key.help << "\n";
  }
  out << "\nModel keys (model.KEY, beside model.layers):\n";
  for (const KeySpec& key : model_keys())
    out << "    " << std::left << std::setw(22) << key.name << std::setw(12) << key.default_value
        << key.help << "\n";
}

}  // namespace cnn
