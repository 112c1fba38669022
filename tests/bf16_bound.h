// The bf16 kernels' error bound against an exact reference on bf16-rounded operands: a sum of
// `terms` products with fp32 accumulation is off by at most 2 (terms + 2) u sum|a||b|
// (u = 2^-24; `scale` holds sum|a||b| per element), plus 4 u |want| for the bias's rounding.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>

#include "core/tensor.h"

namespace cnn::testing {

// The number of elements of `got` off `want` by more than the bound (the first 3 reported).
inline int64_t count_off_bf16_bound(const Tensor& got, const Tensor& want, const Tensor& scale,
                                    int64_t terms) {
  REQUIRE(got.shape() == want.shape());
  const double u = std::ldexp(1.0, -24);
  int64_t bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.data()[i], w = want.data()[i];
    const double bound = 2.0 * (terms + 2) * u * scale.data()[i] + 4 * u * std::fabs(w) + 1e-30;
    if (!(std::fabs(g - w) <= bound) && ++bad <= 3)
      UNSCOPED_INFO("element " << i << ": " << g << " vs " << w << " (bound " << bound << ")");
  }
  return bad;
}

}  // namespace cnn::testing
