// The fusion passes (see fusion.h): the fused steps, the planner that picks them from a
// Sequential's children, and the recursive walk.
#include "layers/fusion.h"

#include <optional>
#include <vector>

#include "core/autograd.h"
#include "core/gemm.h"
#include "core/ops.h"
#include "layers/activations.h"
#include "layers/conv2d.h"
#include "layers/identity.h"
#include "layers/pool2d.h"
#include "layers/residual.h"
#include "layers/sequential.h"

namespace cnn {

namespace {

// ---- The steps. Each stands for a run of a Sequential's children and holds them (not as
// children: the names stay the Sequential's).

class FusedStep : public Module {
 public:
  std::string type() const override { return "fused"; }
};

// layer -> relu as layer.forward_relu: the ReLU applied as the output is written.
class ReluStep : public FusedStep {
 public:
  explicit ReluStep(ModulePtr layer) : layer_(std::move(layer)) {}
  Tensor forward(const Tensor& input) override { return layer_->forward_relu(input); }
  Shape output_shape(const Shape& input) const override { return layer_->output_shape(input); }
  std::string describe() const override { return layer_->describe() + " + relu"; }

 private:
  ModulePtr layer_;
};

// layer -> relu -> 2x2 stride-2 max-pool: off the tape the layer writes the pooled map when
// it can (forward_relu_max_pool2x2); otherwise, and under the tape, ReluStep then the pool.
class ReluMaxPoolStep : public FusedStep {
 public:
  ReluMaxPoolStep(ModulePtr layer, ModulePtr pool)
      : layer_(std::move(layer)), pool_(std::move(pool)) {}
  Tensor forward(const Tensor& input) override {
    if (!grad_mode_enabled())
      if (Tensor pooled = layer_->forward_relu_max_pool2x2(input); pooled.defined()) return pooled;
    return pool_->forward(layer_->forward_relu(input));
  }
  Shape output_shape(const Shape& input) const override {
    return pool_->output_shape(layer_->output_shape(input));
  }
  std::string describe() const override {
    return layer_->describe() + " + relu + " + pool_->describe();
  }

 private:
  ModulePtr layer_, pool_;
};

// A ResNet basic block as evaluation leaves it: body conv -> relu -> conv, shortcut
// nothing (identity) or one conv (the projection, its BN folded in).
struct BasicBlock {
  Conv2d *first = nullptr, *second = nullptr, *projection = nullptr;
};

// Evaluation of a basic block one image at a time: the image, the map between the convs
// and the shortcut's output stay in cache instead of making three batch-sized round trips
// through memory. The second conv adds the shortcut and applies the ReLU as it writes (its
// Winograd path). Returns an undefined tensor when the block does not qualify.
Tensor forward_by_image(const Tensor& input, const BasicBlock& block) {
  const Shape& shape = input.shape();
  const Shape mid = block.first->output_shape(shape);
  const Shape skip = block.projection ? block.projection->output_shape(shape) : shape;
  if (!conv2d_runs_winograd(mid, block.second->options()) ||
      block.second->output_shape(mid) != skip)
    return Tensor();
  const PreparedConv2d first(*block.first, shape), second(*block.second, mid);
  std::optional<PreparedConv2d> projection;
  if (block.projection) projection.emplace(*block.projection, shape);
  const Tensor x = input.contiguous();
  Tensor out = Tensor::empty(skip);
  const int64_t batch = shape[0], image = shape_numel(shape) / batch;
  const int64_t mid_image = shape_numel(mid) / batch, out_image = shape_numel(skip) / batch;
  SingleThreadedBlas single_threaded;  // the threads take whole images
#pragma omp parallel for schedule(static) if (batch > 1)
  for (int64_t n = 0; n < batch; ++n) {
    thread_local std::vector<float> mid_buffer, skip_buffer;
    mid_buffer.resize(mid_image);
    const float* x_n = x.data() + n * image;
    first.run(x_n, true, nullptr, mid_buffer.data());
    const float* shortcut = x_n;
    if (projection) {
      skip_buffer.resize(out_image);
      projection->run(x_n, false, nullptr, skip_buffer.data());
      shortcut = skip_buffer.data();
    }
    second.run(mid_buffer.data(), false, shortcut, out.data() + n * out_image);
  }
  return out;
}

// A residual block with relu after the sum, off the tape: image by image when it is a basic
// block, else the sum and ReLU written by the body's last layer (after the body's other
// steps). Under the tape, and when neither applies, the block's own forward.
class ResidualStep : public FusedStep {
 public:
  ResidualStep(std::shared_ptr<Residual> block, std::optional<BasicBlock> basic,
               std::vector<ModulePtr> head, ModulePtr last)
      : block_(std::move(block)), basic_(basic), head_(std::move(head)), last_(std::move(last)) {}

  Tensor forward(const Tensor& input) override {
    if (grad_mode_enabled()) return block_->forward(input);
    if (basic_ && input.dim() == 4)
      if (Tensor out = forward_by_image(input, *basic_); out.defined()) return out;
    if (!last_) return block_->forward(input);
    Module* shortcut = block_->shortcut();
    Tensor skip = shortcut ? shortcut->forward(input) : input;
    block_->check_sum_shapes(block_->body().output_shape(input.shape()), skip.shape(),
                             input.shape());
    Tensor x = input;
    for (const ModulePtr& step : head_) x = step->forward(x);
    if (Tensor out = last_->forward_add_relu(x, skip); out.defined()) return out;
    return add_relu(last_->forward(x), skip);
  }
  Shape output_shape(const Shape& input) const override { return block_->output_shape(input); }
  std::string describe() const override { return block_->describe() + ", fused"; }

 private:
  std::shared_ptr<Residual> block_;
  std::optional<BasicBlock> basic_;
  std::vector<ModulePtr> head_;  // the body's steps before last_
  ModulePtr last_;               // the body's last step, a plain layer; or none
};

// ---- The planner.

bool is_identity(const Module& layer) { return dynamic_cast<const Identity*>(&layer) != nullptr; }

bool is_relu(const Module& layer) {
  auto* activation = dynamic_cast<const Activation*>(&layer);
  return activation && activation->kind() == Activation::Kind::ReLU;
}

// The pool forward_relu_max_pool2x2 computes: kernel 2, stride 2, no padding.
bool is_max_pool_2x2(const Module& layer) {
  auto* pool = dynamic_cast<const MaxPool2d*>(&layer);
  using Pair = std::pair<int64_t, int64_t>;
  return pool && pool->options().kernel_size == Pair{2, 2} &&
         pool->options().stride == Pair{2, 2} && pool->options().padding == Pair{0, 0};
}

// The layers of a Sequential other than identities; empty for any other module.
std::vector<Module*> working_layers(Module* module) {
  std::vector<Module*> layers;
  if (auto* sequence = dynamic_cast<Sequential*>(module))
    for (size_t i = 0; i < sequence->size(); ++i)
      if (!is_identity(*sequence->at(i))) layers.push_back(sequence->at(i).get());
  return layers;
}

std::optional<BasicBlock> basic_block(Residual& block) {
  const std::vector<Module*> layers = working_layers(&block.body());
  if (layers.size() != 3 || !is_relu(*layers[1])) return std::nullopt;
  BasicBlock basic{dynamic_cast<Conv2d*>(layers[0]), dynamic_cast<Conv2d*>(layers[2])};
  if (!basic.first || !basic.second) return std::nullopt;
  if (Module* shortcut = block.shortcut()) {
    const std::vector<Module*> projection = working_layers(shortcut);
    basic.projection = projection.size() == 1 ? dynamic_cast<Conv2d*>(projection[0]) : nullptr;
    if (!basic.projection) return std::nullopt;
  }
  return basic;
}

// The evaluation step for a residual child, or none when the block has no relu after its
// sum or nothing to fuse. Its body (a child of the block) is planned already.
ModulePtr residual_step(const ModulePtr& child) {
  auto block = std::dynamic_pointer_cast<Residual>(child);
  if (!block || !block->relu_after()) return nullptr;
  std::optional<BasicBlock> basic = basic_block(*block);
  std::vector<ModulePtr> head;
  ModulePtr last;
  if (auto* body = dynamic_cast<Sequential*>(&block->body()); body && !body->steps().empty()) {
    head = body->steps();
    if (!dynamic_cast<const FusedStep*>(head.back().get())) {  // a layer of its own
      last = head.back();
      head.pop_back();
    }
  }
  if (!basic && !last) return nullptr;
  return std::make_shared<ResidualStep>(block, basic, last ? head : std::vector<ModulePtr>{}, last);
}

// The steps for `sequence`'s children: identities dropped, a layer that absorbs_relu()
// taking the relu after it (and in evaluation a 2x2 max-pool after that), and in evaluation
// residual blocks as ResidualStep.
std::vector<ModulePtr> plan(const Sequential& sequence, bool evaluation, int& fused) {
  std::vector<ModulePtr> steps;
  const size_t n = sequence.size();
  for (size_t i = 0; i < n; ++i) {
    const ModulePtr& layer = sequence.at(i);
    if (is_identity(*layer)) continue;
    if (layer->absorbs_relu()) {
      size_t next = i + 1;
      while (next < n && is_identity(*sequence.at(next))) ++next;
      if (next < n && is_relu(*sequence.at(next))) {
        ++fused;
        if (evaluation && next + 1 < n && is_max_pool_2x2(*sequence.at(next + 1))) {
          steps.push_back(std::make_shared<ReluMaxPoolStep>(layer, sequence.at(next + 1)));
          i = next + 1;
        } else {
          steps.push_back(std::make_shared<ReluStep>(layer));
          i = next;
        }
        continue;
      }
    }
    if (evaluation)
      if (ModulePtr step = residual_step(layer)) {
        ++fused;
        steps.push_back(std::move(step));
        continue;
      }
    steps.push_back(layer);
  }
  return steps;
}

// Children first: a residual step looks at its body's steps.
int fuse(Module& module, bool evaluation) {
  int fused = 0;
  for (const auto& [name, child] : module.children()) fused += fuse(*child, evaluation);
  if (auto* sequence = dynamic_cast<Sequential*>(&module))
    sequence->set_steps(plan(*sequence, evaluation, fused));
  return fused;
}

}  // namespace

int fuse_for_training(Module& model) { return fuse(model, false); }

int fuse_for_evaluation(Module& model) { return fuse(model, true); }

void unfuse(Module& model) {
  for (const auto& [name, child] : model.children()) unfuse(*child);
  if (auto* sequence = dynamic_cast<Sequential*>(&model)) sequence->clear_steps();
}

}  // namespace cnn
