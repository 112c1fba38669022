// The reference for the fast convolution: the definition of a (grouped, strided, dilated,
// zero-padded) cross-correlation written as seven nested loops, and its gradients written
// the same way, all accumulated in double. Slow and obviously right; tests only.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "layers/conv2d.h"

namespace cnn::testing {

struct NaiveConvGradients {
  Tensor input, weight, bias;  // bias undefined when the conv has none
};

// Calls visit(n, o, oh, ow, c, cg, ih, iw, ki, kj) for every product term
// y[n,o,oh,ow] += x[n,c,ih,iw] * w[o,cg,ki,kj] (cg = c within its group) that lands inside
// the input (terms reading the zero padding contribute nothing).
template <typename Visit>
void naive_conv_terms(const Shape& x, const Conv2dOptions& o, int64_t OH, int64_t OW,
                      Visit visit) {
  const int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  const int64_t C_g = C / o.groups, O_g = o.out_channels / o.groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < o.out_channels; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t cg = 0; cg < C_g; ++cg)
            for (int64_t ki = 0; ki < o.kernel_size.first; ++ki)
              for (int64_t kj = 0; kj < o.kernel_size.second; ++kj) {
                const int64_t c = (oc / O_g) * C_g + cg;
                const int64_t ih = oh * o.stride.first - o.padding.first + ki * o.dilation.first;
                const int64_t iw = ow * o.stride.second - o.padding.second + kj * o.dilation.second;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                visit(n, oc, oh, ow, c, cg, ih, iw, ki, kj);
              }
}

inline int64_t naive_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

// x [N,C,H,W], w [O,C/g,kh,kw], b [O] or undefined -> y [N,O,OH,OW]
inline Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b,
                           const Conv2dOptions& o) {
  const Shape xs = x.shape();
  const int64_t OH = naive_out_size(xs[2], o.kernel_size.first, o.stride.first, o.padding.first,
                                    o.dilation.first);
  const int64_t OW = naive_out_size(xs[3], o.kernel_size.second, o.stride.second,
                                    o.padding.second, o.dilation.second);
  const int64_t O = o.out_channels;
  std::vector<double> acc(xs[0] * O * OH * OW, 0.0);
  naive_conv_terms(xs, o, OH, OW, [&](auto n, auto oc, auto oh, auto ow, auto c, auto cg, auto ih,
                                      auto iw, auto ki, auto kj) {
    acc[((n * O + oc) * OH + oh) * OW + ow] +=
        static_cast<double>(x.at({n, c, ih, iw})) * w.at({oc, cg, ki, kj});
  });
  Tensor y = Tensor::empty({xs[0], O, OH, OW});
  for (int64_t i = 0; i < y.numel(); ++i) {
    const int64_t oc = (i / (OH * OW)) % O;
    y.data()[i] = static_cast<float>(acc[i] + (b.defined() ? b.data()[oc] : 0.0f));
  }
  return y;
}

// The gradients of sum(gy * conv(x, w, b)) with respect to x, w and b.
inline NaiveConvGradients naive_conv2d_backward(const Tensor& x, const Tensor& w, bool has_bias,
                                                const Tensor& gy, const Conv2dOptions& o) {
  const Shape xs = x.shape(), ws = w.shape();
  const int64_t O = o.out_channels, OH = gy.size(2), OW = gy.size(3);
  std::vector<double> dx(x.numel(), 0.0), dw(w.numel(), 0.0), db(O, 0.0);
  naive_conv_terms(xs, o, OH, OW, [&](auto n, auto oc, auto oh, auto ow, auto c, auto cg, auto ih,
                                      auto iw, auto ki, auto kj) {
    const double g = gy.at({n, oc, oh, ow});
    dx[((n * xs[1] + c) * xs[2] + ih) * xs[3] + iw] += g * w.at({oc, cg, ki, kj});
    dw[((oc * ws[1] + cg) * ws[2] + ki) * ws[3] + kj] += g * x.at({n, c, ih, iw});
  });
  for (int64_t n = 0; n < gy.size(0); ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) db[oc] += gy.at({n, oc, oh, ow});
  auto to_tensor = [](const Shape& shape, const std::vector<double>& values) {
    Tensor t = Tensor::empty(shape);
    for (size_t i = 0; i < values.size(); ++i) t.data()[i] = static_cast<float>(values[i]);
    return t;
  };
  NaiveConvGradients grads{to_tensor(xs, dx), to_tensor(ws, dw), Tensor()};
  if (has_bias) grads.bias = to_tensor({O}, db);
  return grads;
}

}  // namespace cnn::testing
