// The autograd tape, define-by-run: each differentiable op that sees an input requiring
// grad records a Node holding its backward closure. backward() orders the nodes reachable
// from the loss (reverse of recording order), runs each closure once, accumulates into
// leaves' .grad, and releases each node's saved tensors right after it ran.
// A node keeps only edges to its inputs (their producers, or the leaf to accumulate into),
// not their data: an intermediate tensor lives as long as a closure saved it or the caller
// holds it, as in PyTorch, so activations no backward needs are freed during the forward.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cnn {

// Maps the gradient of an op's output to the gradients of its inputs (one per input,
// in order; an undefined Tensor means "no gradient for this input").
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// Where an input's gradient goes: the node that produced it, or, for a leaf that requires
// grad (a parameter), the leaf itself. Inputs that need no gradient keep nothing.
struct Edge {
  std::shared_ptr<Node> producer;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;  // the input's, to check the gradient's
  bool wants_grad() const { return producer || leaf; }
};

struct Node {
  std::string op;                   // e.g. "matmul", for error messages
  std::vector<Edge> inputs;         // one per input of the op, in order
  BackwardFn backward;              // empty once released
  Shape output_shape;
  uint64_t sequence = 0;            // recording order, for a stable topological order
  bool released = false;
};

// True unless a NoGradGuard is alive on this thread.
bool grad_mode_enabled();

// RAII scope in which ops record nothing (evaluation, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and one of the inputs requires grad.
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a backward node to `output` when needs_grad(inputs); returns output either way.
// The closure should capture only what the backward needs (it is freed after backward).
Tensor record_op(const std::string& op, Tensor output, std::vector<Tensor> inputs,
                 BackwardFn backward);

// Runs backpropagation from `root` seeded with `seed` (same shape as root).
void run_backward(const Tensor& root, const Tensor& seed);

// Called (when set) after each node's gradients reached its inputs, on the backward's thread:
// a data-parallel trainer starts the allreduce of the parameters whose gradients are final
// while the backward goes on. Empty = none (the default).
void set_backward_progress_hook(std::function<void()> hook);

// A user-defined differentiable op, the role of torch.autograd.Function:
//   CustomOp op{"square", forward, backward};
//   Tensor y = op({x});
// forward computes the output from plain tensors; backward receives the inputs, the
// output and the output gradient, and returns one gradient per input.
struct CustomOp {
  using Forward = std::function<Tensor(const std::vector<Tensor>& inputs)>;
  using Backward = std::function<std::vector<Tensor>(
      const std::vector<Tensor>& inputs, const Tensor& output, const Tensor& grad_output)>;
  std::string name;
  Forward forward;
  Backward backward;
  Tensor operator()(const std::vector<Tensor>& inputs) const;
};

}  // namespace cnn
