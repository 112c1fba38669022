// Differentiable shape ops: reshape and flatten share storage with their input when
// it is contiguous; their backward reshapes the gradient back.
#include "core/autograd.h"
#include "core/ops.h"

namespace cnn {

Tensor reshape(const Tensor& a, const Shape& shape) {
  Tensor out = a.contiguous().view(shape);
  Shape in_shape = a.shape();
  return record_op("reshape", out, {a}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{g.contiguous().view(in_shape)};
  });
}

Tensor flatten(const Tensor& a, int64_t start_dim) {
  int64_t rank = a.dim();
  int64_t start = start_dim < 0 ? start_dim + rank : start_dim;
  CNN_CHECK(start >= 0 && start < std::max<int64_t>(rank, 1), "flatten: start_dim ", start_dim,
            " out of range for shape ", shape_str(a.shape()));
  Shape shape(a.shape().begin(), a.shape().begin() + start);
  shape.push_back(-1);
  return reshape(a, shape);
}

}  // namespace cnn
