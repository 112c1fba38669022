// Tensor shapes whose byte count overflows int64, found by replaying huge config values
// through the config fuzzer (fuzz/fuzz_config.cpp): `out_channels: 2^60+4, kernel_size: 4`
// built a conv2d whose weight [2^60+4, 3, 4, 4] had 192 floats of storage. Tensor::empty
// now refuses such shapes, naming them.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/tensor.h"

using namespace cnn;
using Catch::Contains;

TEST_CASE("Tensor::empty refuses a shape whose byte count overflows int64", "[tensor][fuzz]") {
  const int64_t wraps = (int64_t{1} << 60) + 4;  // x 48 floats x 4 bytes wraps to 768 bytes
  CHECK_THROWS_WITH(Tensor::empty({wraps, 3, 4, 4}),
                    Contains("[1152921504606846980, 3, 4, 4]") && Contains("int64"));
  CHECK_THROWS_AS(Tensor::zeros({int64_t{1} << 62, int64_t{1} << 62}), Error);
  CHECK_THROWS_AS(Tensor::empty({int64_t{1} << 61}, DType::Int64), Error);  // 8-byte elements
  // An empty dimension makes the shape empty, however large the others are.
  CHECK(Tensor::empty({0, int64_t{1} << 62}).numel() == 0);
}
