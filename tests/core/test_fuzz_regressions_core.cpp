// Fuzzer findings in core, each with the input that found it:
// - Tensor shapes whose byte count overflows int64, found by replaying huge config values
//   through the config fuzzer (fuzz/fuzz_config.cpp): `out_channels: 2^60+4, kernel_size: 4`
//   built a conv2d whose weight [2^60+4, 3, 4, 4] had 192 floats of storage. Tensor::empty
//   now refuses such shapes, naming them.
// - A safetensors header with a tensor named "" (fuzz/fuzz_safetensors.cpp): the reader took
//   it and the writer refused it, so the fuzzer's round trip threw. The reader refuses it too.
#include <catch2/catch.hpp>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"
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

TEST_CASE("safetensors refuses a tensor with an empty name, as its writer does",
          "[safetensors][fuzz]") {
  const std::string header = "{\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  bytes += header;
  CHECK_THROWS_WITH(parse_safetensors(bytes, "fuzz input"),
                    Contains("'fuzz input'") && Contains("a tensor has an empty name"));
  CHECK_THROWS_WITH(serialize_safetensors({{"", Tensor::zeros({0})}}), Contains("empty name"));
}
