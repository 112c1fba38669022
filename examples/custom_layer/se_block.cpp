// The squeeze-and-excitation block and its registration (see se_block.h). Loading this
// library (linked in, or `cnnlab --plugin`) is all it takes for a config to name se_block.
#include "se_block.h"

#include <algorithm>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "layers/registry.h"

namespace cnn::example {

SEBlock::SEBlock(int64_t channels, int64_t reduction, bool bias, Generator& generator)
    : channels_(channels), hidden_(std::max<int64_t>(1, channels / reduction)) {
  CNN_CHECK(channels > 0, "se_block: expected a positive channel count, got ", channels);
  CNN_CHECK(reduction >= 1, "se_block: reduction must be at least 1, got ", reduction);
  // PyTorch's Linear initialisation, fc1 drawn before fc2.
  fc1_ = std::make_shared<Linear>(channels_, hidden_, bias, generator);
  fc2_ = std::make_shared<Linear>(hidden_, channels_, bias, generator);
  register_module("fc1", fc1_);
  register_module("fc2", fc2_);
}

// Every step is a differentiable core op, so backward comes from the tape.
Tensor SEBlock::gates(const Tensor& input) {
  output_shape(input.shape());                    // the same checks as at build time
  Tensor squeezed = mean(input, {2, 3});          // [N, C]: global average pool
  Tensor hidden = relu(fc1_->forward(squeezed));  // [N, C/r]
  return sigmoid(fc2_->forward(hidden));          // [N, C], each in (0, 1)
}

Tensor SEBlock::forward(const Tensor& input) {
  const int64_t N = input.size(0), C = channels_;
  Tensor g = gates(input);
  return mul(input, reshape(g, {N, C, 1, 1}));  // [N, C, H, W]: rescaled channels
}

namespace {

// forward: x [N,C,H,W], gates [N,C] -> y [N,C,H,W] = max(x * gate, 0)
Tensor scale_relu_forward(const std::vector<Tensor>& inputs) {
  Tensor x = inputs[0].contiguous(), g = inputs[1].contiguous();
  Tensor y = Tensor::empty(x.shape());
  const int64_t planes = g.numel(), plane = x.numel() / planes;
#pragma omp parallel for schedule(static) if (x.numel() > 65536)
  for (int64_t p = 0; p < planes; ++p) {
    const float gate = g.data()[p];
    const float* xp = x.data() + p * plane;
    float* yp = y.data() + p * plane;
    for (int64_t i = 0; i < plane; ++i) yp[i] = std::max(xp[i] * gate, 0.0f);
  }
  return y;
}

// backward: where y > 0, dx = dy * gate and dgate = sum over the plane of dy * x.
std::vector<Tensor> scale_relu_backward(const std::vector<Tensor>& inputs, const Tensor& output,
                                        const Tensor& grad_output) {
  Tensor x = inputs[0].contiguous(), g = inputs[1].contiguous();
  Tensor y = output.contiguous(), dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(x.shape()), dg = Tensor::empty(g.shape());
  const int64_t planes = g.numel(), plane = x.numel() / planes;
#pragma omp parallel for schedule(static) if (x.numel() > 65536)
  for (int64_t p = 0; p < planes; ++p) {
    const float gate = g.data()[p];
    const float *xp = x.data() + p * plane, *yp = y.data() + p * plane;
    const float* dyp = dy.data() + p * plane;
    float* dxp = dx.data() + p * plane;
    double total = 0.0;
    for (int64_t i = 0; i < plane; ++i) {
      const float d = yp[i] > 0.0f ? dyp[i] : 0.0f;
      dxp[i] = d * gate;
      total += static_cast<double>(d) * xp[i];
    }
    dg.data()[p] = static_cast<float>(total);
  }
  return {dx, dg};
}

}  // namespace

Tensor SEBlock::forward_relu(const Tensor& input) {
  static const CustomOp op{"se_scale_relu", scale_relu_forward, scale_relu_backward};
  return op({input, gates(input)});
}

Shape SEBlock::output_shape(const Shape& input) const {
  CNN_CHECK(input.size() == 4, describe(), ": expected a 4-d input [N, C, H, W], got ",
            shape_str(input), " (put se_block after a convolution, before flatten)");
  CNN_CHECK(input[1] == channels_, describe(), ": expected ", channels_, " input channels, got ",
            shape_str(input));
  return input;
}

std::string SEBlock::describe() const {
  std::ostringstream out;
  out << "se_block(channels=" << channels_ << ", hidden=" << hidden_
      << ", bias=" << (fc1_->bias().defined() ? "true" : "false") << ")";
  return out.str();
}

namespace {
CNNLAB_REGISTER_LAYER(LayerInfo{
    "se_block",
    "squeeze-and-excitation: rescale channels by gates from their global average (Hu et al. "
    "2018); example plugin",
    {{"reduction", "4", "the paper's r: the hidden width is max(1, channels / r)"},
     {"bias", "true", "biases in the two fully connected layers"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      const Shape& in = context.input_shape;
      CNN_CHECK(in.size() == 4, "se_block: expected a 4-d input [N, C, H, W], got ", shape_str(in),
                " (put it after a convolution, before flatten)");
      int64_t reduction = args.get_int("reduction");
      CNN_CHECK(reduction >= 1, args.key_path("reduction"), ": must be at least 1, got ",
                reduction);
      CNN_CHECK(context.generator, "se_block: the build context has no generator");
      return std::make_shared<SEBlock>(in[1], reduction, args.get_bool("bias"), *context.generator);
    }});
}  // namespace

}  // namespace cnn::example
