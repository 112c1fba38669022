// bfloat16: the top 16 bits of an IEEE float (sign, 8 exponent bits, 7 mantissa bits), the
// operand format of the bf16 GEMMs (core/gemm_bf16.h). Conversions round to nearest, ties to
// even, as PyTorch's c10::BFloat16 and Intel's VCVTNEPS2BF16 do, except that subnormals are
// kept (VCVTNEPS2BF16 flushes them) and a NaN stays a NaN (quieted, sign kept).
#pragma once

#include <cstdint>
#include <cstring>

namespace cnn {

using bf16 = uint16_t;  // the bits

inline uint32_t float_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

inline float float_from_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Round to nearest even: add 0x7fff plus the lowest kept bit, then drop the low half (a
// carry into the exponent is the correct rounding up, up to infinity).
inline bf16 float_to_bf16(float x) {
  const uint32_t bits = float_bits(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16>((bits >> 16) | 0x0040u);
  return static_cast<bf16>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(bf16 x) { return float_from_bits(static_cast<uint32_t>(x) << 16); }

// x rounded to the nearest bf16, as a float (the emulated GEMM's operands).
inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

// Arrays of n values, on AVX-512 where the CPU has it (core/bf16_avx512.cpp), else the
// scalar loops below; both give the same bits.
void float_to_bf16(const float* x, int64_t n, bf16* y);
void bf16_to_float(const bf16* x, int64_t n, float* y);
void round_to_bf16(const float* x, int64_t n, float* y);

// The scalar loops, the reference the tests hold the vector versions to.
void float_to_bf16_scalar(const float* x, int64_t n, bf16* y);
void bf16_to_float_scalar(const bf16* x, int64_t n, float* y);
void round_to_bf16_scalar(const float* x, int64_t n, float* y);

// Whether the arrays run on AVX-512 here (false under a lowered gemm level, core/gemm.h).
bool bf16_arrays_vectorized();

}  // namespace cnn
