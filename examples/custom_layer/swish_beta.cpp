// Swish-beta through cnn::CustomOp: forward and its hand-written backward (see swish_beta.h).
#include "swish_beta.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "layers/registry.h"

namespace cnn::example {

namespace {

inline float sigmoid_of(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// forward: x [*], beta [1] -> y [*] = x * s, s = sigmoid(beta * x)
Tensor swish_beta_forward(const std::vector<Tensor>& inputs) {
  Tensor x = inputs[0].contiguous();
  const float beta = inputs[1].data()[0];
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) py[i] = px[i] * sigmoid_of(beta * px[i]);
  return y;
}

// backward: with s = sigmoid(beta x) and s' = s (1 - s),
//   dy/dx    = s + beta x s'   -> dx = dy * (s + beta x s')            [*]
//   dy/dbeta = x^2 s'          -> dbeta = sum over elements of dy x^2 s'  [1]
// s is recomputed from the saved input rather than saved: one exp per element is cheaper
// than keeping a second activation-sized tensor alive until backward.
std::vector<Tensor> swish_beta_backward(const std::vector<Tensor>& inputs, const Tensor& output,
                                        const Tensor& grad_output) {
  Tensor x = inputs[0].contiguous();
  Tensor dy = grad_output.contiguous();
  const float beta = inputs[1].data()[0];
  Tensor dx = Tensor::empty(x.shape());
  const float* px = x.data();
  const float* pg = dy.data();
  float* pd = dx.data();
  const int64_t n = x.numel();
  double dbeta = 0.0;  // a sum over every element: accumulate in double
#pragma omp parallel for schedule(static) reduction(+ : dbeta) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float s = sigmoid_of(beta * px[i]);
    const float ds = s * (1.0f - s);
    pd[i] = pg[i] * (s + beta * px[i] * ds);
    dbeta += static_cast<double>(pg[i]) * px[i] * px[i] * ds;
  }
  return {dx, Tensor::full({1}, static_cast<float>(dbeta))};
}

const CustomOp& swish_beta_op() {
  static const CustomOp op{"swish_beta", swish_beta_forward, swish_beta_backward};
  return op;
}

}  // namespace

Tensor swish_beta(const Tensor& x, const Tensor& beta) {
  CNN_CHECK(x.dtype() == DType::Float32, "swish_beta: expected a float32 input");
  CNN_CHECK(beta.shape() == Shape{1}, "swish_beta: beta must have shape [1], got ",
            shape_str(beta.shape()));
  return swish_beta_op()({x, beta});
}

SwishBeta::SwishBeta(float beta, bool learnable)
    : beta_(Tensor::full({1}, beta)), learnable_(learnable) {
  if (learnable)
    register_parameter("beta", &beta_);
  else
    register_buffer("beta", &beta_);
}

std::string SwishBeta::describe() const {
  std::ostringstream out;
  out << "swish_beta(beta=" << beta_.data()[0] << (learnable_ ? ", learnable" : ", fixed") << ")";
  return out.str();
}

namespace {
CNNLAB_REGISTER_LAYER(LayerInfo{
    "swish_beta",
    "x * sigmoid(beta * x) with a learnable beta (Ramachandran et al. 2017); example plugin "
    "written with cnn::CustomOp",
    {{"beta", "1.0", "initial beta (1 = SiLU, large = ReLU-like)"},
     {"learnable", "true", "train beta (false: a fixed buffer)"}},
    [](const LayerArgs& args, BuildContext&) -> ModulePtr {
      return std::make_shared<SwishBeta>(args.get_float("beta"), args.get_bool("learnable"));
    }});
}  // namespace

}  // namespace cnn::example
