// Bit-for-bit equality of two tensors (shape, dtype and every value), for the tests that
// check a state is untouched or restored exactly (checkpoints, frozen BN, fine-tuning).
#pragma once

#include <cstring>
#include <vector>

#include "core/tensor.h"

namespace cnn::testing {

inline bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == DType::Int64) return a.to_int64_vector() == b.to_int64_vector();
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

}  // namespace cnn::testing
