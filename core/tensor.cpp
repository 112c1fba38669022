// Tensor storage, views, element access and printing.
#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "core/autograd.h"
#include "core/tensor_memory.h"

namespace cnn {

const char* dtype_name(DType dtype) { return dtype == DType::Float32 ? "float32" : "int64"; }
size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? 4 : 8; }

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

Storage::Storage(size_t bytes) : data_(allocate_tensor_memory(bytes)), bytes_(bytes) {}

Storage::~Storage() { release_tensor_memory(data_, bytes_); }

TensorImpl& Tensor::checked_impl() const {
  CNN_CHECK(impl_, "tensor: use of an undefined tensor (it was never assigned, or it was "
                   "released after backward)");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  int64_t bytes = static_cast<int64_t>(dtype_size(dtype));
  for (int64_t d : shape) {
    CNN_CHECK(d >= 0, "tensor: negative dimension in shape ", shape_str(shape));
    // A wrapped-around size would allocate a tiny buffer for a huge shape (a fuzz finding).
    CNN_CHECK(!__builtin_mul_overflow(bytes, d, &bytes), "tensor: shape ", shape_str(shape),
              " holds more bytes than int64 can count");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(bytes));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.impl_->storage->data(), 0, t.numel() * dtype_size(dtype));
  return t;
}

Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  CNN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: shape ",
            shape_str(shape), " needs ", shape_numel(shape), " values, got ", values.size());
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::from_int64(const Shape& shape, const std::vector<int64_t>& values) {
  CNN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_int64: shape ",
            shape_str(shape), " needs ", shape_numel(shape), " values, got ", values.size());
  Tensor t = empty(shape, DType::Int64);
  std::copy(values.begin(), values.end(), t.data_i64());
  return t;
}

Tensor Tensor::arange(int64_t count) {
  Tensor t = empty({count});
  for (int64_t i = 0; i < count; ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

const Shape& Tensor::shape() const { return checked_impl().shape; }
const Shape& Tensor::strides() const { return checked_impl().strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(shape().size()); }
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return checked_impl().dtype; }

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  int64_t axis = d < 0 ? d + n : d;
  CNN_CHECK(axis >= 0 && axis < n, "tensor.size: dimension ", d, " is out of range for shape ",
            shape_str(shape()));
  return shape()[axis];
}

bool Tensor::is_contiguous() const { return strides() == contiguous_strides(shape()); }

float* Tensor::data() {
  TensorImpl& impl = checked_impl();
  CNN_CHECK(impl.dtype == DType::Float32, "tensor.data: tensor of shape ", shape_str(impl.shape),
            " is ", dtype_name(impl.dtype), ", expected float32");
  return static_cast<float*>(impl.storage->data()) + impl.offset;
}

const float* Tensor::data() const { return const_cast<Tensor*>(this)->data(); }

int64_t* Tensor::data_i64() {
  TensorImpl& impl = checked_impl();
  CNN_CHECK(impl.dtype == DType::Int64, "tensor.data_i64: tensor of shape ",
            shape_str(impl.shape), " is ", dtype_name(impl.dtype), ", expected int64");
  return static_cast<int64_t*>(impl.storage->data()) + impl.offset;
}

const int64_t* Tensor::data_i64() const { return const_cast<Tensor*>(this)->data_i64(); }

float Tensor::item() const {
  CNN_CHECK(numel() == 1, "tensor.item: expected one element, tensor has shape ",
            shape_str(shape()));
  return dtype() == DType::Float32 ? data()[0] : static_cast<float>(data_i64()[0]);
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  CNN_CHECK(static_cast<int64_t>(index.size()) == dim(), "tensor.at: index of ", index.size(),
            " dimensions for shape ", shape_str(shape()));
  int64_t offset = 0, d = 0;
  for (int64_t i : index) {
    CNN_CHECK(i >= 0 && i < shape()[d], "tensor.at: index ", i, " out of range in dimension ",
              d, " of shape ", shape_str(shape()));
    offset += i * strides()[d++];
  }
  return dtype() == DType::Float32 ? data()[offset] : static_cast<float>(data_i64()[offset]);
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = contiguous();
  if (dtype() == DType::Int64) {
    std::vector<float> out(numel());
    for (int64_t i = 0; i < numel(); ++i) out[i] = static_cast<float>(c.data_i64()[i]);
    return out;
  }
  return std::vector<float>(c.data(), c.data() + numel());
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  Tensor c = contiguous();
  return std::vector<int64_t>(c.data_i64(), c.data_i64() + numel());
}

Tensor Tensor::view(Shape new_shape) const {
  CNN_CHECK(is_contiguous(), "view: tensor of shape ", shape_str(shape()),
            " is not contiguous; call contiguous() first or use reshape()");
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < new_shape.size(); ++i) {
    if (new_shape[i] == -1) {
      CNN_CHECK(infer < 0, "view: more than one -1 in shape ", shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      known *= new_shape[i];
    }
  }
  if (infer >= 0) {
    CNN_CHECK(known > 0 && numel() % known == 0, "view: cannot view shape ", shape_str(shape()),
              " as ", shape_str(new_shape));
    new_shape[infer] = numel() / known;
  }
  CNN_CHECK(shape_numel(new_shape) == numel(), "view: cannot view shape ", shape_str(shape()),
            " (", numel(), " elements) as ", shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>(checked_impl());
  impl->shape = new_shape;
  impl->strides = contiguous_strides(new_shape);
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  return Tensor(std::move(impl));
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  CNN_CHECK(dim() >= 1, "slice: cannot slice a scalar");
  CNN_CHECK(0 <= begin && begin <= end && end <= shape()[0], "slice: rows [", begin, ", ", end,
            ") out of range for shape ", shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>(checked_impl());
  impl->offset += begin * impl->strides[0];
  impl->shape[0] = end - begin;
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  return Tensor(std::move(impl));
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int64_t n = dim();
  if (d0 < 0) d0 += n;
  if (d1 < 0) d1 += n;
  CNN_CHECK(d0 >= 0 && d0 < n && d1 >= 0 && d1 < n, "transpose: dimensions out of range for ",
            shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>(checked_impl());
  std::swap(impl->shape[d0], impl->shape[d1]);
  std::swap(impl->strides[d0], impl->strides[d1]);
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  return Tensor(std::move(impl));
}

namespace {
// Copies a strided tensor into a contiguous buffer, element by element.
template <typename T>
void gather_strided(const T* src, const Shape& shape, const Shape& strides, T* dst) {
  int64_t n = shape_numel(shape);
  int64_t dims = static_cast<int64_t>(shape.size());
  std::vector<int64_t> index(dims, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t offset = 0;
    for (int64_t d = 0; d < dims; ++d) offset += index[d] * strides[d];
    dst[i] = src[offset];
    for (int64_t d = dims - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}
}  // namespace

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  if (dtype() == DType::Float32) {
    const float* src = static_cast<const float*>(impl_->storage->data()) + impl_->offset;
    if (is_contiguous())
      std::memcpy(out.data(), src, numel() * sizeof(float));
    else
      gather_strided(src, shape(), strides(), out.data());
  } else {
    const int64_t* src = static_cast<const int64_t*>(impl_->storage->data()) + impl_->offset;
    if (is_contiguous())
      std::memcpy(out.data_i64(), src, numel() * sizeof(int64_t));
    else
      gather_strided(src, shape(), strides(), out.data_i64());
  }
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(checked_impl());
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  return Tensor(std::move(impl));
}

Tensor& Tensor::fill_(float value) {
  CNN_CHECK(is_contiguous(), "fill_: tensor of shape ", shape_str(shape()), " is not contiguous");
  if (dtype() == DType::Float32)
    std::fill(data(), data() + numel(), value);
  else
    std::fill(data_i64(), data_i64() + numel(), static_cast<int64_t>(value));
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0f); }

Tensor& Tensor::copy_(const Tensor& source) {
  CNN_CHECK(source.numel() == numel() && source.dtype() == dtype(), "copy_: cannot copy ",
            dtype_name(source.dtype()), " ", shape_str(source.shape()), " into ",
            dtype_name(dtype()), " ", shape_str(shape()));
  CNN_CHECK(is_contiguous(), "copy_: destination of shape ", shape_str(shape()),
            " is not contiguous");
  Tensor src = source.contiguous();
  size_t bytes = numel() * dtype_size(dtype());
  const char* from = static_cast<const char*>(src.impl_->storage->data()) +
                     src.impl_->offset * dtype_size(dtype());
  char* to = static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(dtype());
  std::memmove(to, from, bytes);
  return *this;
}

bool Tensor::requires_grad() const { return checked_impl().requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  CNN_CHECK(!on || dtype() == DType::Float32, "set_requires_grad: only float32 tensors can "
                                              "require grad, this one is ",
            dtype_name(dtype()));
  checked_impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& g = checked_impl().grad;
  return g ? Tensor(g) : Tensor();
}

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined())
    CNN_CHECK(grad.shape() == shape(), "set_grad: gradient of shape ", shape_str(grad.shape()),
              " for a tensor of shape ", shape_str(shape()));
  checked_impl().grad = grad.impl_ptr();
}

void Tensor::zero_grad() { checked_impl().grad.reset(); }
bool Tensor::is_leaf() const { return checked_impl().grad_fn == nullptr; }
std::shared_ptr<Node> Tensor::grad_fn() const { return checked_impl().grad_fn; }

void Tensor::backward(const Tensor& seed) const {
  if (!seed.defined()) {
    CNN_CHECK(numel() == 1, "backward: called on a non-scalar tensor of shape ",
              shape_str(shape()), " without a seed gradient; reduce it to a scalar (sum/mean) "
              "or pass a seed of the same shape");
    run_backward(*this, Tensor::ones(shape()));
  } else {
    CNN_CHECK(seed.shape() == shape(), "backward: seed gradient of shape ",
              shape_str(seed.shape()), " does not match the tensor's shape ",
              shape_str(shape()));
    run_backward(*this, seed);
  }
}

std::string Tensor::to_string(int64_t max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream out;
  out << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (requires_grad()) out << ", requires_grad";
  if (grad_fn()) out << ", grad_fn=" << grad_fn()->op;
  out << ")\n[";
  std::vector<float> values = to_vector();
  int64_t shown = std::min<int64_t>(max_elements, numel());
  int64_t row = dim() >= 1 ? shape().back() : 1;
  out << std::setprecision(5);
  for (int64_t i = 0; i < shown; ++i) {
    if (i > 0) out << ((row > 0 && i % row == 0) ? ",\n " : ", ");
    out << values[i];
  }
  if (shown < numel()) out << ", ... (" << numel() - shown << " more)";
  out << "]";
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) {
  return out << tensor.to_string();
}

}  // namespace cnn
