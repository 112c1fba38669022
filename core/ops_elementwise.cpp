// Element-wise ops: broadcasting binary arithmetic, scalar ops and unary maps,
// each forward followed by its backward.
#include <cmath>

#include "core/autograd.h"
#include "core/elementwise_map.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace cnn {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    CNN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
              shape_str(b), " cannot be broadcast together (dimension ", i, ": ", da, " vs ",
              db, ")");
    out[i] = std::max(da, db);
  }
  return out;
}

namespace {

// Strides of `shape` inside the broadcast `out` shape: 0 where the operand is stretched.
Shape broadcast_strides(const Shape& shape, const Shape& out) {
  Shape own = contiguous_strides(shape);
  Shape strides(out.size(), 0);
  size_t lead = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    strides[lead + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

// out[i] = f(a[ia], b[ib]) over the broadcast shape; the innermost dimension runs as a loop.
template <typename F>
Tensor broadcast_binary(const Tensor& a_in, const Tensor& b_in, const char* op, F f) {
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(out_shape);
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  int64_t n = out.numel();
  if (a.shape() == b.shape()) {
#pragma omp parallel for if (n > kParallelMinElements)
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  if (out_shape.empty()) {
    po[0] = f(pa[0], pb[0]);
    return out;
  }
  Shape sa = broadcast_strides(a.shape(), out_shape), sb = broadcast_strides(b.shape(), out_shape);
  int64_t dims = static_cast<int64_t>(out_shape.size());
  int64_t inner = out_shape.back(), ia_step = sa.back(), ib_step = sb.back();
  int64_t rows = n / std::max<int64_t>(inner, 1);
#pragma omp parallel for if (n > kParallelMinElements)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rem = row, oa = 0, ob = 0;
    for (int64_t d = dims - 2; d >= 0; --d) {
      int64_t idx = rem % out_shape[d];
      rem /= out_shape[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    float* dst = po + row * inner;
    for (int64_t j = 0; j < inner; ++j) dst[j] = f(pa[oa + j * ia_step], pb[ob + j * ib_step]);
  }
  return out;
}

Tensor plain_mul(const Tensor& a, const Tensor& b) {
  return broadcast_binary(a, b, "mul", [](float x, float y) { return x * y; });
}

}  // namespace

// ---- add / sub -------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary(a, b, "add", [](float x, float y) { return x + y; });
  Shape sa = a.shape(), sb = b.shape();
  return record_op("add", out, {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{reduce_to_shape(g, sa), reduce_to_shape(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary(a, b, "sub", [](float x, float y) { return x - y; });
  Shape sa = a.shape(), sb = b.shape();
  return record_op("sub", out, {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{reduce_to_shape(g, sa), reduce_to_shape(neg(g), sb)};
  });
}

// ---- mul / div -------------------------------------------------------------------------
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = plain_mul(a, b);
  Tensor sa = a.detach(), sb = b.detach();
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record_op("mul", out, {a, b}, [sa, sb, need_a, need_b](const Tensor& g) {
    Tensor ga = need_a ? reduce_to_shape(plain_mul(g, sb), sa.shape()) : Tensor();
    Tensor gb = need_b ? reduce_to_shape(plain_mul(g, sa), sb.shape()) : Tensor();
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary(a, b, "div", [](float x, float y) { return x / y; });
  Tensor sa = a.detach(), sb = b.detach();
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record_op("div", out, {a, b}, [sa, sb, need_a, need_b](const Tensor& g) {
    // d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
    Tensor ga = need_a ? reduce_to_shape(
                             broadcast_binary(g, sb, "div", [](float x, float y) { return x / y; }),
                             sa.shape())
                       : Tensor();
    Tensor gb;
    if (need_b) {
      Tensor a_over_b2 =
          broadcast_binary(sa, sb, "div", [](float x, float y) { return -x / (y * y); });
      gb = reduce_to_shape(plain_mul(g, a_over_b2), sb.shape());
    }
    return std::vector<Tensor>{ga, gb};
  });
}

// ---- scalar ops ------------------------------------------------------------------------
Tensor add_scalar(const Tensor& a, float s) {
  Tensor out = map_unary(a, [s](float x) { return x + s; });
  return record_op("add_scalar", out, {a}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor mul_scalar(const Tensor& a, float s) {
  Tensor out = map_unary(a, [s](float x) { return x * s; });
  return record_op("mul_scalar", out, {a}, [s](const Tensor& g) {
    return std::vector<Tensor>{map_unary(g, [s](float x) { return x * s; })};
  });
}

Tensor neg(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return -x; });
  return record_op("neg", out, {a}, [](const Tensor& g) {
    return std::vector<Tensor>{map_unary(g, [](float x) { return -x; })};
  });
}

Tensor pow_scalar(const Tensor& a, float p) {
  Tensor out = map_unary(a, [p](float x) { return std::pow(x, p); });
  Tensor saved = a.detach();
  return record_op("pow_scalar", out, {a}, [saved, p](const Tensor& g) {
    return std::vector<Tensor>{grad_times(g, saved, [p](float x) { return p * std::pow(x, p - 1); })};
  });
}

// ---- unary maps ------------------------------------------------------------------------
Tensor exp(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return std::exp(x); });
  Tensor saved = out.detach();  // d exp(x) = exp(x)
  return record_op("exp", out, {a}, [saved](const Tensor& g) {
    return std::vector<Tensor>{plain_mul(g, saved)};
  });
}

Tensor log(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return std::log(x); });
  Tensor saved = a.detach();
  return record_op("log", out, {a}, [saved](const Tensor& g) {
    return std::vector<Tensor>{grad_times(g, saved, [](float x) { return 1.0f / x; })};
  });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return std::sqrt(x); });
  Tensor saved = out.detach();
  return record_op("sqrt", out, {a}, [saved](const Tensor& g) {
    return std::vector<Tensor>{grad_times(g, saved, [](float y) { return 0.5f / y; })};
  });
}

Tensor relu(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return x > 0.0f ? x : 0.0f; });
  Tensor saved = out.detach();  // the output's sign is enough for the mask
  return record_op("relu", out, {a}, [saved](const Tensor& g) {
    return std::vector<Tensor>{grad_times(g, saved, [](float y) { return y > 0.0f ? 1.0f : 0.0f; })};
  });
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  CNN_CHECK(a.shape() == b.shape(), "add_relu: the two inputs must have the same shape, got ",
            shape_str(a.shape()), " and ", shape_str(b.shape()));
  Tensor out = broadcast_binary(a, b, "add_relu", [](float x, float y) {
    const float sum = x + y;
    return sum > 0.0f ? sum : 0.0f;
  });
  Tensor saved = out.detach();
  return record_op("add_relu", out, {a, b}, [saved](const Tensor& g) {
    Tensor masked = grad_times(g, saved, [](float y) { return y > 0.0f ? 1.0f : 0.0f; });
    return std::vector<Tensor>{masked, masked};  // d(a+b)/da = d(a+b)/db = 1
  });
}

}  // namespace cnn
