// Tensor: a float32 (or int64) n-dimensional array with shared, 64-byte aligned storage,
// shape and strides, plus the autograd fields (requires_grad, grad, grad_fn).
//
// Dimension legend used in shape comments throughout cnnlab:
//   N batch, C channels, H height, W width, F features, K classes.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace cnn {

enum class DType { Float32, Int64 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

// One 64-byte aligned allocation, shared by every view of it.
class Storage {
 public:
  explicit Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

struct Node;
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;     // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;        // the op that produced this tensor, if recorded
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Values are uninitialised for empty().
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);  // shape []
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  static Tensor from_int64(const Shape& shape, const std::vector<int64_t>& values);
  static Tensor arange(int64_t count);  // 0, 1, ... count-1 as float

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const;
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  bool is_contiguous() const;

  // Raw element access; the pointer is at this view's offset.
  float* data();
  const float* data() const;
  int64_t* data_i64();
  const int64_t* data_i64() const;
  float item() const;                                   // one-element tensor
  float at(std::initializer_list<int64_t> index) const;  // for tests and printing
  std::vector<float> to_vector() const;
  std::vector<int64_t> to_int64_vector() const;

  // Views sharing storage (not recorded on the tape; see ops.h for differentiable ones).
  Tensor view(Shape shape) const;                  // one -1 allowed; needs contiguous
  Tensor slice(int64_t begin, int64_t end) const;  // rows [begin, end) of dim 0
  Tensor transpose(int64_t d0, int64_t d1) const;  // strided view
  Tensor contiguous() const;                       // self if contiguous, else a copy
  Tensor clone() const;                            // deep copy, no autograd history
  Tensor detach() const;                           // same storage, no autograd history

  // In-place fills; they bypass the tape.
  Tensor& fill_(float value);
  Tensor& zero_();
  Tensor& copy_(const Tensor& source);  // same numel and dtype

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const;  // undefined until backward reaches this leaf
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops the gradient (the next backward writes a fresh one)
  bool is_leaf() const;
  std::shared_ptr<Node> grad_fn() const;
  // Backpropagates from this tensor. A non-scalar needs a seed gradient of its shape.
  void backward(const Tensor& seed = Tensor()) const;

  std::string to_string(int64_t max_elements = 64) const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_as(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  TensorImpl& checked_impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// A tensor with its dotted name ("3.weight"): state dicts, optimizer parameters and state,
// safetensors files.
using NamedTensor = std::pair<std::string, Tensor>;

}  // namespace cnn
