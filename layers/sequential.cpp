// Sequential container.
#include "layers/sequential.h"

#include <sstream>

namespace cnn {

void Sequential::append(ModulePtr layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

void Sequential::replace(size_t index, ModulePtr layer) {
  CNN_CHECK(index < layers_.size(), "Sequential::replace: index ", index, " out of range (",
            layers_.size(), " layers)");
  replace_module(std::to_string(index), layer);
  layers_[index] = std::move(layer);
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = layers_[i]->forward(x);
    if (observer_) observer_(std::to_string(i), *layers_[i], x);
  }
  return x;
}

Shape Sequential::output_shape(const Shape& input) const {
  Shape shape = input;
  for (size_t i = 0; i < layers_.size(); ++i) {
    try {
      shape = layers_[i]->output_shape(shape);
    } catch (const Error& e) {
      CNN_FAIL("layer ", i, " (", layers_[i]->describe(), "): ", e.what());
    }
  }
  return shape;
}

std::string Sequential::describe() const {
  std::ostringstream out;
  out << "sequential(" << layers_.size() << " layers)";
  return out.str();
}

}  // namespace cnn
