// Backward engine: reverse topological walk over recorded nodes, gradient accumulation
// into leaves, and release of saved tensors after each node ran.
#include "core/autograd.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "core/parallel.h"

namespace cnn {

namespace {
thread_local bool grad_mode = true;
std::atomic<uint64_t> next_sequence{0};

// dst += src, element-wise, both float32 of the same shape (dst contiguous). On the OpenMP
// team when large: a residual block's input gradient is a whole activation map.
void accumulate_into(Tensor& dst, const Tensor& src) {
  Tensor s = src.contiguous();
  float* d = dst.data();
  const float* p = s.data();
  const int64_t n = dst.numel();
#pragma omp parallel for schedule(static) if (n > kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) d[i] += p[i];
}

// a + b as a new tensor, in one pass (a clone then an add would read a twice).
Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor x = a.contiguous(), y = b.contiguous();
  Tensor out = Tensor::empty(a.shape());
  float* o = out.data();
  const float* p = x.data();
  const float* q = y.data();
  const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) o[i] = p[i] + q[i];
  return out;
}
}  // namespace

bool grad_mode_enabled() { return grad_mode; }

NoGradGuard::NoGradGuard() : previous_(grad_mode) { grad_mode = false; }
NoGradGuard::~NoGradGuard() { grad_mode = previous_; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record_op(const std::string& op, Tensor output, std::vector<Tensor> inputs,
                 BackwardFn backward) {
  if (!needs_grad(inputs)) return output;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      edge.shape = input.shape();
      edge.producer = input.grad_fn();
      if (!edge.producer) edge.leaf = input.impl_ptr();
    }
    node->inputs.push_back(std::move(edge));
  }
  node->backward = std::move(backward);
  node->output_shape = output.shape();
  node->sequence = next_sequence++;
  output.impl()->grad_fn = node;
  output.impl()->requires_grad = true;
  return output;
}

namespace {
std::function<void()>& progress_hook() {
  static std::function<void()> hook;
  return hook;
}
}  // namespace

void set_backward_progress_hook(std::function<void()> hook) { progress_hook() = std::move(hook); }

void run_backward(const Tensor& root, const Tensor& seed) {
  NoGradGuard no_grad;  // backward closures compute with plain ops
  CNN_CHECK(root.requires_grad(), "backward: the tensor of shape ", shape_str(root.shape()),
            " does not require grad (no input of the ops that made it requires grad, or it "
            "was computed under NoGradGuard)");
  std::shared_ptr<Node> root_node = root.grad_fn();
  if (!root_node) {  // a leaf: its gradient is the seed
    Tensor leaf = root;
    if (leaf.grad().defined()) {
      Tensor g = leaf.grad();
      accumulate_into(g, seed);
    } else {
      leaf.set_grad(seed.clone());
    }
    return;
  }

  // Collect every node reachable from the root. A node's sequence number is larger than
  // those of the nodes that produced its inputs, so descending sequence is a valid order.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::shared_ptr<Node>> stack{root_node};
  while (!stack.empty()) {
    std::shared_ptr<Node> node = stack.back();
    stack.pop_back();
    if (!seen.insert(node.get()).second) continue;
    order.push_back(node);
    for (const Edge& input : node->inputs)
      if (input.producer) stack.push_back(input.producer);
  }
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a->sequence > b->sequence; });

  std::unordered_map<Node*, Tensor> pending;  // gradient w.r.t. each node's output
  pending[root_node.get()] = seed;
  for (const std::shared_ptr<Node>& node : order) {
    auto found = pending.find(node.get());
    if (found == pending.end()) continue;
    Tensor grad_output = found->second;
    pending.erase(found);
    CNN_CHECK(!node->released, "backward: op '", node->op, "' (output ",
              shape_str(node->output_shape), ") was already backpropagated and its saved "
              "tensors were released; run the forward again before another backward");
    std::vector<Tensor> grads = node->backward(grad_output);
    CNN_CHECK(grads.size() == node->inputs.size(), "backward of op '", node->op, "' returned ",
              grads.size(), " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& input = node->inputs[i];
      const Tensor& g = grads[i];
      if (!input.wants_grad() || !g.defined()) continue;
      CNN_CHECK(g.shape() == input.shape, "backward of op '", node->op, "': gradient for input ",
                i, " has shape ", shape_str(g.shape()), ", expected ", shape_str(input.shape));
      if (const std::shared_ptr<Node>& producer = input.producer) {
        auto slot = pending.find(producer.get());
        if (slot == pending.end()) {
          pending.emplace(producer.get(), g);
        } else {
          // A new tensor: never add into a gradient an op may still alias.
          slot->second = sum_of(slot->second, g);
        }
      } else {
        Tensor leaf(input.leaf);
        if (leaf.grad().defined()) {
          Tensor existing = leaf.grad();
          accumulate_into(existing, g);
        } else {
          leaf.set_grad(g.clone());
        }
      }
    }
    // Release what the backward captured (saved activations) and the edges.
    node->backward = nullptr;
    node->inputs.clear();
    node->released = true;
    if (progress_hook()) progress_hook()();
  }
}

Tensor CustomOp::operator()(const std::vector<Tensor>& inputs) const {
  Tensor output;
  {
    NoGradGuard no_grad;
    output = forward(inputs);
  }
  CNN_CHECK(output.defined(), "custom op '", name, "': forward returned an undefined tensor");
  if (!needs_grad(inputs)) return output;
  std::vector<Tensor> saved_inputs;
  for (const Tensor& t : inputs) saved_inputs.push_back(t.defined() ? t.detach() : t);
  Tensor saved_output = output.detach();  // detached: no cycle through our own grad_fn
  Backward user_backward = backward;
  std::string op_name = name;
  return record_op(name, output, inputs,
                   [saved_inputs, saved_output, user_backward, op_name](const Tensor& g) {
                     std::vector<Tensor> grads = user_backward(saved_inputs, saved_output, g);
                     CNN_CHECK(grads.size() == saved_inputs.size(), "custom op '", op_name,
                               "': backward returned ", grads.size(), " gradients for ",
                               saved_inputs.size(), " inputs");
                     return grads;
                   });
}

}  // namespace cnn
