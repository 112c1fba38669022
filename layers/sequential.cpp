// Sequential container: a loop over its steps (its children, or what a fusion pass made
// of them).
#include "layers/sequential.h"

#include <sstream>

namespace cnn {

void Sequential::append(ModulePtr layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  clear_steps();
}

void Sequential::replace(size_t index, ModulePtr layer) {
  CNN_CHECK(index < layers_.size(), "Sequential::replace: index ", index, " out of range (",
            layers_.size(), " layers)");
  replace_module(std::to_string(index), layer);
  layers_[index] = std::move(layer);
  clear_steps();
}

void Sequential::set_steps(std::vector<ModulePtr> steps) {
  CNN_CHECK(!observer_,
            "Sequential::set_steps: an observer is attached, and it wants every "
            "layer's own output; detach it (set_observer(nullptr)) before fusing");
  steps_ = std::move(steps);
  fused_ = true;
}

void Sequential::clear_steps() {
  steps_ = layers_;
  fused_ = false;
}

void Sequential::set_observer(Observer observer) {
  CNN_CHECK(!observer || !fused_,
            "Sequential::set_observer: the model is fused (layers/fusion.h), so its steps are "
            "not its layers; layer statistics need the unfused model (unfuse it first)");
  observer_ = std::move(observer);
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (size_t i = 0; i < steps_.size(); ++i) {
    x = steps_[i]->forward(x);
    if (observer_) observer_(std::to_string(i), *steps_[i], x);  // unfused: step i is child i
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
