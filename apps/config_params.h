// A run's config flattened to dotted keys, the store's params rows, so runs can be filtered
// by any key: "model.norm" = "batch", "optim.lr" = "0.1", "data.augment.0" = "flip".
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cnn {

// Scalars by dotted path (sequence items by index), sorted by key; "" gives none.
std::vector<std::pair<std::string, std::string>> flatten_config(const std::string& yaml);

}  // namespace cnn
