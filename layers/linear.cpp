// Linear forward and backward, one GEMM each over the rows (compute_gemm, core/precision.h:
// sgemm in fp32, bf16 operands in bf16):
//   forward  y[M,O]  = x[M,F] * W[O,F]^T + b
//   backward dx[M,F] = dy[M,O] * W[O,F];  dW[O,F] = dy^T[O,M] * x[M,F];  db = sum_M dy
#include "layers/linear.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/precision.h"
#include "layers/registry.h"

namespace cnn {

namespace {
std::string describe_linear(int64_t in, int64_t out, bool bias) {
  std::ostringstream s;
  s << "linear(" << in << "->" << out << ", bias=" << (bias ? "true" : "false") << ")";
  return s.str();
}
}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  CNN_CHECK(weight.dim() == 2, "linear: the weight must be 2-d [out, in], got ",
            shape_str(weight.shape()));
  const int64_t O = weight.size(0), F = weight.size(1);
  const std::string layer = describe_linear(F, O, bias.defined());
  CNN_CHECK(input.dim() >= 1 && input.size(-1) == F, layer, ": expected an input whose last "
            "dimension is ", F, ", got ", shape_str(input.shape()),
            input.dim() == 4 ? " (add a flatten layer before it)" : "");
  CNN_CHECK(!bias.defined() || bias.shape() == Shape{O}, layer, ": bias has shape ",
            shape_str(bias.defined() ? bias.shape() : Shape{}), ", expected [", O, "]");
  Tensor x = input.contiguous(), w = weight.contiguous();
  const int64_t M = x.numel() / F;
  Shape out_shape = x.shape();
  out_shape.back() = O;
  Tensor out = Tensor::empty(out_shape);
  float* py = out.data();
  if (bias.defined()) {
    Tensor b = bias.contiguous();
    for (int64_t m = 0; m < M; ++m) std::copy_n(b.data(), O, py + m * O);
  }
  compute_gemm(false, true, M, O, F, 1.0f, x.data(), F, w.data(), F,
               bias.defined() ? 1.0f : 0.0f, py, O);

  const bool need_dx = input.requires_grad(), need_dw = weight.requires_grad();
  const bool need_db = bias.defined() && bias.requires_grad();
  Tensor saved_x = x.detach(), saved_w = w.detach();
  return record_op("linear", out, {input, weight, bias},
                   [=](const Tensor& grad_output) -> std::vector<Tensor> {
                     Tensor gy = grad_output.contiguous();
                     Tensor dx, dw, db;
                     if (need_dx) {
                       dx = Tensor::empty(saved_x.shape());
                       compute_gemm(false, false, M, F, O, 1.0f, gy.data(), O, saved_w.data(),
                                    F, 0.0f, dx.data(), F);
                     }
                     if (need_dw) {
                       dw = Tensor::empty({O, F});
                       compute_gemm(true, false, O, F, M, 1.0f, gy.data(), O, saved_x.data(),
                                    F, 0.0f, dw.data(), F);
                     }
                     if (need_db) {  // summed over the rows in double (docs/numerics.md)
                       db = Tensor::empty({O});
                       std::vector<double> total(O, 0.0);
                       const float* pg = gy.data();
                       for (int64_t m = 0; m < M; ++m)
                         for (int64_t o = 0; o < O; ++o) total[o] += pg[m * O + o];
                       for (int64_t o = 0; o < O; ++o) db.data()[o] = static_cast<float>(total[o]);
                     }
                     return {dx, dw, db};
                   });
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& generator)
    : in_features_(in_features), out_features_(out_features) {
  CNN_CHECK(in_features > 0 && out_features > 0, describe_linear(in_features, out_features, bias),
            ": in_features and out_features must be positive");
  weight_ = Tensor::empty({out_features, in_features});
  // torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), ...).
  kaiming_uniform_(weight_, generator, std::sqrt(5.0f));
  if (bias) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
    bias_ = Tensor::empty({out_features});
    uniform_(bias_, -bound, bound, generator);
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Tensor Linear::forward(const Tensor& input) { return linear(input, weight_, bias_); }

Shape Linear::output_shape(const Shape& input) const {
  CNN_CHECK(!input.empty() && input.back() == in_features_, describe(),
            ": expected an input whose last dimension is ", in_features_, ", got ",
            shape_str(input), input.size() == 4 ? " (add a flatten layer before it)" : "");
  Shape out = input;
  out.back() = out_features_;
  return out;
}

std::string Linear::describe() const {
  return describe_linear(in_features_, out_features_, bias_.defined());
}

namespace {
CNNLAB_REGISTER_LAYER(LayerInfo{
    "linear",
    "fully connected y = x W^T + b, as torch.nn.Linear; in_features from the input",
    {{"out_features", "required", "number of outputs"},
     {"bias", "true", "learn an additive bias"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      const Shape& in = context.input_shape;
      CNN_CHECK(!in.empty(), "linear: the input shape is empty");
      CNN_CHECK(in.size() != 4, "linear: expected an input [N, F], got ", shape_str(in),
                " (add a flatten layer before it)");
      CNN_CHECK(context.generator, "linear: the build context has no generator");
      return std::make_shared<Linear>(in.back(), args.get_int("out_features"),
                                      args.get_bool("bias"), *context.generator);
    }});
}  // namespace

}  // namespace cnn
