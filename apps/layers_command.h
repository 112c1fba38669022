// `cnnlab layers`: every registered layer type (built-in and user-defined) with its
// YAML keys and defaults.
#pragma once

#include <ostream>

namespace cnn {
void print_layers(std::ostream& out);
}
