// The fused group-normalization kernel (forward, then its backward) shared by GroupNorm,
// LayerNorm and InstanceNorm, and the GroupNorm module.
// Shapes: the input [N,C,...] is viewed as [N,G,D], D = (C/G)*L, L = product of dims after C;
// within a group, element e = j*L + l is channel g*(C/G) + j at position l.
#include "layers/groupnorm.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/parallel.h"
#include "layers/registry.h"

namespace cnn {

int64_t effective_num_groups(int64_t channels, int64_t requested) {
  for (int64_t g = std::min(requested, channels); g > 1; --g)
    if (channels % g == 0) return g;
  return 1;
}

namespace {

struct NGD {
  int64_t n = 0, c = 0, l = 1, g = 1;
  int64_t cpg() const { return c / g; }    // channels per group
  int64_t d() const { return cpg() * l; }  // values per group
  int64_t numel() const { return n * c * l; }
};

constexpr int64_t kParallelThreshold = kParallelMinNormElements;

// An affine weight or bias: per-channel or per-element values, nullptr when absent
// (weight 1, bias 0).
struct Affine {
  const float* values = nullptr;
  AffineLayout layout = AffineLayout::PerChannel;
};

// x [N,G,D] -> y [N,G,D]; per (n, g): shift (the group's first value) and centre with
// mean = shift + centre, so x - mean = (x - shift) - centre stays accurate far from zero;
// invstd; and, when wanted, the mean and biased variance in double.
void group_norm_forward(const float* x, NGD s, Affine gamma, Affine beta, float eps, float* y,
                        float* shift, float* centre, float* invstd, GroupStatistics* stats) {
  const int64_t d = s.d(), groups = s.n * s.g;
#pragma omp parallel for schedule(static) if (s.numel() > kParallelThreshold)
  for (int64_t ng = 0; ng < groups; ++ng) {
    const float* xp = x + ng * d;
    const float first = xp[0];  // accumulate around a value of the group: no cancellation
    double sum = 0.0, sum_sq = 0.0;
#pragma omp simd reduction(+ : sum, sum_sq)
    for (int64_t e = 0; e < d; ++e) {
      double v = static_cast<double>(xp[e]) - first;
      sum += v;
      sum_sq += v * v;
    }
    double mu = sum / d;
    double var = std::max(sum_sq / d - mu * mu, 0.0);
    shift[ng] = first;
    centre[ng] = static_cast<float>(mu);
    invstd[ng] = static_cast<float>(1.0 / std::sqrt(var + eps));
    if (stats) {
      stats->mean[ng] = first + mu;
      stats->var[ng] = var;
    }
    const float sh = first, m = centre[ng], is = invstd[ng];
    const int64_t group = ng % s.g;
    float* yp = y + ng * d;
    if (gamma.layout == AffineLayout::PerElement) {
      const float* w = gamma.values ? gamma.values + group * d : nullptr;
      const float* b = beta.values ? beta.values + group * d : nullptr;
#pragma omp simd
      for (int64_t e = 0; e < d; ++e)
        yp[e] = ((xp[e] - sh) - m) * is * (w ? w[e] : 1.0f) + (b ? b[e] : 0.0f);
    } else {
      for (int64_t j = 0; j < s.cpg(); ++j) {
        const int64_t c = group * s.cpg() + j;
        const float k = is * (gamma.values ? gamma.values[c] : 1.0f);
        const float b = beta.values ? beta.values[c] : 0.0f;
        const float* xr = xp + j * s.l;
        float* yr = yp + j * s.l;
#pragma omp simd
        for (int64_t l = 0; l < s.l; ++l) yr[l] = ((xr[l] - sh) - m) * k + b;
      }
    }
  }
}

// dy [N,G,D] -> dx [N,G,D] (when dx != nullptr) and dgamma, dbeta (per channel [C] or per
// element [C*L], when not nullptr). With dxhat = dy*gamma, per (n, g):
//   dx = invstd * (dxhat - mean_D(dxhat) - xhat * mean_D(dxhat*xhat)),
//   dgamma = sum over samples (and positions) of dy*xhat, dbeta = the same of dy.
void group_norm_backward(const float* x, const float* dy, NGD s, Affine gamma, const float* shift,
                         const float* centre, const float* invstd, float* dx, float* dgamma,
                         float* dbeta) {
  const int64_t d = s.d(), groups = s.n * s.g;
  const bool per_element = gamma.layout == AffineLayout::PerElement;
  if (dx) {
#pragma omp parallel for schedule(static) if (s.numel() > kParallelThreshold)
    for (int64_t ng = 0; ng < groups; ++ng) {
      const float* xp = x + ng * d;
      const float* dp = dy + ng * d;
      float* out = dx + ng * d;
      const int64_t group = ng % s.g;
      const float sh = shift[ng], m = centre[ng];
      // gamma for element e of this group: per element, or channel group*cpg + e/L.
      const float* w_elem = gamma.values && per_element ? gamma.values + group * d : nullptr;
      const float* w_chan = gamma.values && !per_element ? gamma.values + group * s.cpg() : nullptr;
      double sum_dxhat = 0.0, sum_dxhat_xmu = 0.0;
      for (int64_t j = 0; j < s.cpg(); ++j) {
        const float wc = w_chan ? w_chan[j] : 1.0f;
        const float* we = w_elem ? w_elem + j * s.l : nullptr;
        const float* xr = xp + j * s.l;
        const float* dr = dp + j * s.l;
        double row = 0.0, row_xmu = 0.0;
#pragma omp simd reduction(+ : row, row_xmu)
        for (int64_t l = 0; l < s.l; ++l) {
          double dxhat = static_cast<double>(dr[l]) * (we ? we[l] : wc);
          row += dxhat;
          row_xmu += dxhat * ((xr[l] - sh) - m);
        }
        sum_dxhat += row;
        sum_dxhat_xmu += row_xmu;
      }
      const double is = invstd[ng];
      // dx = is*dxhat + a*(x - mean) + b, the formula above expanded.
      const float a = static_cast<float>(-is * is * is * sum_dxhat_xmu / d);
      const float b = static_cast<float>(-is * sum_dxhat / d);
      for (int64_t j = 0; j < s.cpg(); ++j) {
        const float kc = static_cast<float>(is) * (w_chan ? w_chan[j] : 1.0f);
        const float* we = w_elem ? w_elem + j * s.l : nullptr;
        const float* xr = xp + j * s.l;
        const float* dr = dp + j * s.l;
        float* outr = out + j * s.l;
        const float isf = static_cast<float>(is);
#pragma omp simd
        for (int64_t l = 0; l < s.l; ++l)
          outr[l] = (we ? isf * we[l] : kc) * dr[l] + a * ((xr[l] - sh) - m) + b;
      }
    }
  }
  if (!dgamma && !dbeta) return;
  if (per_element) {
    const int64_t elements = s.c * s.l;
#pragma omp parallel for schedule(static) if (s.numel() > kParallelThreshold)
    for (int64_t i = 0; i < elements; ++i) {
      const int64_t group = i / d;
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for (int64_t n = 0; n < s.n; ++n) {
        const int64_t ng = n * s.g + group, at = n * elements + i;
        sum_dy += dy[at];
        sum_dy_xhat +=
            static_cast<double>(dy[at]) * ((x[at] - shift[ng]) - centre[ng]) * invstd[ng];
      }
      if (dgamma) dgamma[i] = static_cast<float>(sum_dy_xhat);
      if (dbeta) dbeta[i] = static_cast<float>(sum_dy);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (s.numel() > kParallelThreshold)
  for (int64_t c = 0; c < s.c; ++c) {
    const int64_t group = c / s.cpg();
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t n = 0; n < s.n; ++n) {
      const int64_t ng = n * s.g + group, at = (n * s.c + c) * s.l;
      const float sh = shift[ng], m = centre[ng];
      double row_dy = 0.0, row_dy_xmu = 0.0;
#pragma omp simd reduction(+ : row_dy, row_dy_xmu)
      for (int64_t l = 0; l < s.l; ++l) {
        row_dy += dy[at + l];
        row_dy_xmu += static_cast<double>(dy[at + l]) * ((x[at + l] - sh) - m);
      }
      sum_dy += row_dy;
      sum_dy_xhat += row_dy_xmu * invstd[ng];
    }
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
  }
}

}  // namespace

Tensor group_norm(const Tensor& input, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps, AffineLayout layout, const std::string& who, GroupStatistics* stats) {
  CNN_CHECK(input.defined() && input.dtype() == DType::Float32, who, ": expected a float32 input");
  CNN_CHECK(input.dim() >= 2, who, ": expected an input [N, C, ...], found ",
            shape_str(input.shape()));
  NGD s;
  s.n = input.size(0);
  s.c = input.size(1);
  for (int64_t d = 2; d < input.dim(); ++d) s.l *= input.size(d);
  s.g = groups;
  CNN_CHECK(groups >= 1 && s.c % groups == 0, who, ": ", groups, " groups do not divide the ", s.c,
            " channels of input ", shape_str(input.shape()));
  const int64_t affine_size = layout == AffineLayout::PerChannel ? s.c : s.c * s.l;
  for (const Tensor* t : {&weight, &bias})
    CNN_CHECK(!t->defined() || t->numel() == affine_size, who, ": the affine ",
              t == &weight ? "weight" : "bias", " ", shape_str(t->shape()), " does not fit input ",
              shape_str(input.shape()));

  Tensor x = input.contiguous().detach();
  Tensor w = weight.defined() ? weight.contiguous().detach() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous().detach() : Tensor();
  Affine gamma{w.defined() ? w.data() : nullptr, layout};
  Affine beta{b.defined() ? b.data() : nullptr, layout};
  Tensor y = Tensor::empty(input.shape());
  std::vector<float> shift(s.n * s.g), centre(s.n * s.g), invstd(s.n * s.g);
  if (stats) {
    stats->mean.assign(s.n * s.g, 0.0);
    stats->var.assign(s.n * s.g, 0.0);
  }
  group_norm_forward(x.data(), s, gamma, beta, eps, y.data(), shift.data(), centre.data(),
                     invstd.data(), stats);
  const bool x_grad = input.requires_grad(), w_grad = weight.defined() && weight.requires_grad(),
             b_grad = bias.defined() && bias.requires_grad();
  // The weight is saved as a detached view: the backward reads the values the forward used
  // (optimizers update parameters only after backward).
  return record_op(
      "group_norm", y, {input, weight, bias},
      [x, w, s, layout, shift, centre, invstd, x_grad, w_grad, b_grad, affine_size,
       weight_shape = weight.defined() ? weight.shape() : Shape{},
       bias_shape = bias.defined() ? bias.shape() : Shape{}](const Tensor& grad_output) {
        Tensor dy = grad_output.contiguous();
        Tensor dx = x_grad ? Tensor::empty(x.shape()) : Tensor();
        Tensor dgamma = w_grad ? Tensor::empty({affine_size}) : Tensor();
        Tensor dbeta = b_grad ? Tensor::empty({affine_size}) : Tensor();
        Affine gamma{w.defined() ? w.data() : nullptr, layout};
        group_norm_backward(x.data(), dy.data(), s, gamma, shift.data(), centre.data(),
                            invstd.data(), x_grad ? dx.data() : nullptr,
                            w_grad ? dgamma.data() : nullptr, b_grad ? dbeta.data() : nullptr);
        // Gradients take the parameters' own shapes ([C] or LayerNorm's [C,H,W]).
        return std::vector<Tensor>{dx, w_grad ? dgamma.view(weight_shape) : Tensor(),
                                   b_grad ? dbeta.view(bias_shape) : Tensor()};
      });
}

// ---- the module -------------------------------------------------------------------------

GroupNorm::GroupNorm(const GroupNormOptions& options) : options_(options) {
  CNN_CHECK(options.num_channels > 0, "groupnorm: num_channels must be positive, found ",
            options.num_channels);
  CNN_CHECK(options.num_groups > 0, "groupnorm: num_groups must be positive, found ",
            options.num_groups);
  CNN_CHECK(options.eps > 0.0f, "groupnorm: eps must be positive, found ", options.eps);
  groups_ = effective_num_groups(options.num_channels, options.num_groups);
  if (options.affine) {
    weight_ = Tensor::ones({options.num_channels});
    bias_ = Tensor::zeros({options.num_channels});
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Tensor GroupNorm::forward(const Tensor& input) {
  output_shape(input.shape());
  return group_norm(input, groups_, weight_, bias_, options_.eps, AffineLayout::PerChannel, type());
}

Shape GroupNorm::output_shape(const Shape& input) const {
  CNN_CHECK(input.size() >= 2 && input[1] == options_.num_channels,
            "groupnorm: expected an "
            "input with ",
            options_.num_channels, " channels in dimension 1 ([N, ", options_.num_channels,
            ", ...]), found ", shape_str(input));
  return input;
}

std::string GroupNorm::describe() const {
  std::ostringstream out;
  out << "groupnorm(" << groups_ << " groups of " << options_.num_channels / groups_ << " channels";
  if (groups_ != options_.num_groups)
    out << ", num_groups " << options_.num_groups << " lowered to the largest divisor of "
        << options_.num_channels;
  out << ", eps=" << options_.eps << ", affine=" << (options_.affine ? "true" : "false") << ")";
  return out.str();
}

GroupNormOptions groupnorm_options(const LayerArgs& args, int64_t num_channels) {
  GroupNormOptions options;
  options.num_channels = num_channels;
  options.num_groups = args.get_int("num_groups");
  CNN_CHECK(options.num_groups > 0, args.key_path("num_groups"),
            ": expected a positive number of groups, found ", options.num_groups);
  options.eps = args.get_float("eps");
  options.affine = args.get_bool("affine");
  return options;
}

CNNLAB_REGISTER_LAYER(LayerInfo{
    "groupnorm",
    "group normalization: per sample, over groups of channels (and positions)",
    {{"num_groups", default_text(GroupNormOptions().num_groups),
      "groups of consecutive channels; lowered to the largest divisor of C that is <= it"},
     {"eps", default_text(GroupNormOptions().eps), "added to the variance before the square root"},
     {"affine", default_text(GroupNormOptions().affine),
      "learnable per-channel weight (init 1) and bias (init 0)"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      CNN_CHECK(context.input_shape.size() >= 2,
                "groupnorm: expected an input [N, C, ...], "
                "found ",
                shape_str(context.input_shape));
      return std::make_shared<GroupNorm>(groupnorm_options(args, context.input_shape[1]));
    },
    true});

}  // namespace cnn
