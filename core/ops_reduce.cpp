// Reductions (sum, mean over all or some dimensions) and the broadcast-gradient helper.
#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"

namespace cnn {

namespace {

// Normalised, sorted, unique reduction axes for a tensor of `rank` dims.
std::vector<int64_t> normalise_dims(const std::vector<int64_t>& dims, int64_t rank,
                                    const char* op) {
  std::vector<int64_t> axes;
  for (int64_t d : dims) {
    int64_t axis = d < 0 ? d + rank : d;
    CNN_CHECK(axis >= 0 && axis < rank, op, ": dimension ", d, " out of range for a ", rank,
              "-d tensor");
    axes.push_back(axis);
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

// Sum over `axes`, keeping them as size-1 dimensions.
Tensor sum_keepdim(const Tensor& in, const std::vector<int64_t>& axes) {
  Tensor a = in.contiguous();
  Shape kept = a.shape();
  for (int64_t axis : axes) kept[axis] = 1;
  Tensor out = Tensor::zeros(kept);
  Shape out_strides = contiguous_strides(kept);
  for (int64_t axis : axes) out_strides[axis] = 0;
  const float* pa = a.data();
  float* po = out.data();
  int64_t rank = a.dim(), n = a.numel();
  if (rank == 0 || n == 0) {
    if (n) po[0] = pa[0];
    return out;
  }
  int64_t inner = a.shape().back(), inner_step = out_strides.back();
  int64_t rows = n / std::max<int64_t>(inner, 1);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rem = row, offset = 0;
    for (int64_t d = rank - 2; d >= 0; --d) {
      offset += (rem % a.shape()[d]) * out_strides[d];
      rem /= a.shape()[d];
    }
    const float* src = pa + row * inner;
    if (inner_step == 0) {
      double acc = 0.0;
      for (int64_t j = 0; j < inner; ++j) acc += src[j];
      po[offset] += static_cast<float>(acc);
    } else {
      for (int64_t j = 0; j < inner; ++j) po[offset + j] += src[j];
    }
  }
  return out;
}

Shape drop_axes(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), d)) out.push_back(shape[d]);
  return out;
}

// Stretches g (of keepdim shape) back over `shape`.
Tensor expand_to(const Tensor& g, const Shape& shape) { return add(Tensor::zeros(shape), g); }

}  // namespace

Tensor reduce_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  CNN_CHECK(lead >= 0, "reduce_to_shape: gradient ", shape_str(grad.shape()),
            " has fewer dimensions than ", shape_str(shape));
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && grad.shape()[d] != 1)) axes.push_back(d);
  Tensor summed = sum_keepdim(grad, axes);
  return summed.view(shape);
}

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> axes = normalise_dims(dims, a.dim(), "sum");
  Tensor kept = sum_keepdim(a, axes);
  Tensor out = keepdim ? kept : kept.view(drop_axes(a.shape(), axes));
  Shape in_shape = a.shape(), kept_shape = kept.shape();
  return record_op("sum", out, {a}, [in_shape, kept_shape](const Tensor& g) {
    return std::vector<Tensor>{expand_to(g.contiguous().view(kept_shape), in_shape)};
  });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> axes = normalise_dims(dims, a.dim(), "mean");
  int64_t count = 1;
  for (int64_t axis : axes) count *= a.shape()[axis];
  CNN_CHECK(count > 0, "mean: reducing ", shape_str(a.shape()), " over empty dimensions");
  return mul_scalar(sum(a, dims, keepdim), 1.0f / static_cast<float>(count));
}

Tensor sum(const Tensor& a) {
  std::vector<int64_t> all(a.dim());
  for (int64_t d = 0; d < a.dim(); ++d) all[d] = d;
  return sum(a, all, false);
}

Tensor mean(const Tensor& a) {
  CNN_CHECK(a.numel() > 0, "mean: tensor of shape ", shape_str(a.shape()), " is empty");
  return mul_scalar(sum(a), 1.0f / static_cast<float>(a.numel()));
}

}  // namespace cnn
