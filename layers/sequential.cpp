// Sequential container.
#include "layers/sequential.h"

#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"

#include "layers/activations.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/identity.h"
#include "layers/pool2d.h"

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

bool is_relu(const Module& layer) {
  auto* activation = dynamic_cast<const Activation*>(&layer);
  return activation && activation->kind() == Activation::Kind::ReLU;
}

// A conv2d or batchnorm followed by a ReLU (identities in between, as BN folding leaves
// them) applies the ReLU itself as it writes its output: one pass over the activations
// less each way. Returns the index of that ReLU, or 0 when layer i cannot absorb one.
size_t absorbed_relu(const std::vector<ModulePtr>& layers, size_t i) {
  Module* layer = layers[i].get();
  if (!dynamic_cast<Conv2d*>(layer) && !dynamic_cast<BatchNorm*>(layer)) return 0;
  size_t next = i + 1;
  while (next < layers.size() && dynamic_cast<const Identity*>(layers[next].get())) ++next;
  return next < layers.size() && is_relu(*layers[next]) ? next : 0;
}

// In evaluation (no tape), a conv2d whose absorbed ReLU is followed by a max-pool writes
// the pooled map directly (Conv2d::forward_relu_max_pool). Returns the pool's index or 0.
size_t absorbed_max_pool(const std::vector<ModulePtr>& layers, size_t i, size_t relu) {
  if (grad_mode_enabled() || !dynamic_cast<Conv2d*>(layers[i].get())) return 0;
  return relu + 1 < layers.size() && dynamic_cast<const MaxPool2d*>(layers[relu + 1].get())
             ? relu + 1
             : 0;
}

Tensor forward_relu(Module& layer, const Tensor& x) {
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv->forward_relu(x);
  return dynamic_cast<BatchNorm&>(layer).forward_relu(x);
}

}  // namespace

Tensor Sequential::forward(const Tensor& input) { return forward_layers(input, layers_.size()); }

Tensor Sequential::forward_add_relu(const Tensor& input, const Tensor& residual) {
  // In evaluation the last conv2d (identities after it, as BN folding leaves them) adds the
  // residual and applies the ReLU as it writes its output: no separate pass over three maps.
  size_t last = layers_.size();
  while (last > 0 && dynamic_cast<const Identity*>(layers_[last - 1].get())) --last;
  auto* conv = last > 0 ? dynamic_cast<Conv2d*>(layers_[last - 1].get()) : nullptr;
  if (!conv || observer_ || grad_mode_enabled()) return add_relu(forward(input), residual);
  return conv->forward_add_relu(forward_layers(input, last - 1), residual);
}

Tensor Sequential::forward_layers(const Tensor& input, size_t end) {
  Tensor x = input;
  for (size_t i = 0; i < end; ++i) {
    // An observer wants every layer's own output: no fusion then.
    const size_t relu = observer_ ? 0 : absorbed_relu(layers_, i);
    if (relu && relu < end) {
      if (const size_t pool = absorbed_max_pool(layers_, i, relu); pool && pool < end) {
        const auto& options = dynamic_cast<const MaxPool2d&>(*layers_[pool]).options();
        x = dynamic_cast<Conv2d&>(*layers_[i]).forward_relu_max_pool(x, options);
        i = pool;
        continue;
      }
      x = forward_relu(*layers_[i], x);
      i = relu;  // the layers up to the ReLU are done
      continue;
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
