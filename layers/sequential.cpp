// Sequential container.
#include "layers/sequential.h"

#include <sstream>

#include "layers/activations.h"
#include "layers/batchnorm.h"

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

namespace {
// A batch norm followed by a ReLU runs as one fused op (layers/batchnorm.h), unless an
// observer wants to see the batch norm's own output.
BatchNorm* fusable_batchnorm(const ModulePtr& layer, const ModulePtr& next) {
  auto* activation = dynamic_cast<const Activation*>(next.get());
  if (!activation || activation->kind() != Activation::Kind::ReLU) return nullptr;
  return dynamic_cast<BatchNorm*>(layer.get());
}
}  // namespace

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!observer_ && i + 1 < layers_.size()) {
      if (BatchNorm* bn = fusable_batchnorm(layers_[i], layers_[i + 1])) {
        x = bn->forward_relu(x);
        ++i;  // the ReLU is done
        continue;
      }
    }
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
