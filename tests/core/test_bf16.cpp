// float <-> bf16 conversions (core/bf16.h): round to nearest even at ties, subnormals kept,
// overflow to infinity, NaN kept NaN; the AVX-512 arrays bit-identical to the scalar
// reference; and every rounding the same as torch.bfloat16's (fixtures/bf16_rounding.json,
// made by fixtures/make_bf16_fixture.py).
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/bf16.h"
#include "core/cpu_features.h"
#include "core/gemm.h"

using namespace cnn;

namespace {

bf16 round_bits(uint32_t bits) { return float_to_bf16(float_from_bits(bits)); }

// A mix of every class of float: random patterns (NaNs and infinities included), ties,
// subnormals; n chosen to leave a tail past the last whole vector.
std::vector<float> mixed_floats(int64_t n) {
  std::mt19937 random(18);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits = random();
    if (i % 4 == 1) bits = (bits & 0xffff0000u) | 0x8000u;  // a tie
    if (i % 4 == 2) bits &= 0x807fffffu;                    // a subnormal
    x[i] = float_from_bits(bits);
  }
  return x;
}

}  // namespace

TEST_CASE("bf16 rounds ties to even and keeps the rest nearest", "[bf16]") {
  CHECK(round_bits(0x3f808000u) == 0x3f80);  // tie, kept bit even: stays
  CHECK(round_bits(0x3f818000u) == 0x3f82);  // tie, kept bit odd: up to even
  CHECK(round_bits(0x3f807fffu) == 0x3f80);  // below the tie: down
  CHECK(round_bits(0x3f808001u) == 0x3f81);  // above the tie: up
  CHECK(round_bits(0xbf818000u) == 0xbf82);  // negative ties the same, by magnitude
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_float(0x3f80) == 1.0f);
  CHECK(round_to_bf16(1.0f + 1.0f / 256) == 1.0f);  // half an ulp of bf16 at 1: tie to 1
}

TEST_CASE("bf16 keeps subnormals, zeros' signs, infinities and NaN", "[bf16]") {
  CHECK(round_bits(0x00000001u) == 0x0000);  // the smallest subnormal: below half an ulp
  CHECK(round_bits(0x00008000u) == 0x0000);  // a subnormal tie, even: stays at 0
  CHECK(round_bits(0x00018000u) == 0x0002);  // a subnormal tie, odd: up
  CHECK(round_bits(0x00010000u) == 0x0001);  // the smallest bf16 subnormal, exact
  CHECK(round_bits(0x007fffffu) == 0x0080);  // the largest subnormal rounds up to normal
  CHECK(round_bits(0x80000000u) == 0x8000);
  CHECK(round_bits(0x7f800000u) == 0x7f80);
  CHECK(round_bits(0xff800000u) == 0xff80);
  CHECK(round_bits(0x7f7fffffu) == 0x7f80);  // the largest float rounds up to infinity
  CHECK(round_bits(0x7f7f7fffu) == 0x7f7f);  // ... but not below the tie
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x7f80ffffu, 0x7fff8000u}) {
    INFO("NaN bits " << std::hex << nan);
    CHECK(std::isnan(bf16_to_float(round_bits(nan))));
    CHECK((round_bits(nan) & 0x8000) == ((nan >> 16) & 0x8000));  // sign kept
  }
}

TEST_CASE("bf16 rounding matches torch.bfloat16", "[bf16]") {
  const YAML::Node fixture =
      YAML::LoadFile(std::string(CNNLAB_FIXTURES_DIR) + "/bf16_rounding.json");
  const YAML::Node inputs = fixture["float_bits"], expected = fixture["bf16_bits"];
  REQUIRE(inputs.size() == expected.size());
  REQUIRE(inputs.size() > 2000);
  std::vector<float> x(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) x[i] = float_from_bits(inputs[i].as<uint32_t>());
  std::vector<bf16> scalar(x.size()), vector(x.size());
  float_to_bf16_scalar(x.data(), static_cast<int64_t>(x.size()), scalar.data());
  float_to_bf16(x.data(), static_cast<int64_t>(x.size()), vector.data());
  int64_t mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const bf16 want = static_cast<bf16>(expected[i].as<uint32_t>());
    if (scalar[i] != want || vector[i] != want) {
      if (++mismatches <= 5)
        UNSCOPED_INFO("input " << std::hex << inputs[i].as<uint32_t>() << ": torch " << want
                               << ", scalar " << scalar[i] << ", array " << vector[i]);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("bf16 arrays on AVX-512 give the scalar reference's bits", "[bf16]") {
  if (cpu_features().best < Isa::avx512) {
    WARN("no AVX-512 on this CPU: the arrays run the scalar loops, nothing to compare");
    return;
  }
  REQUIRE(bf16_arrays_vectorized());
  for (int64_t n : {1, 15, 16, 17, 1000, 4099}) {
    INFO("n = " << n);
    const std::vector<float> x = mixed_floats(n);
    std::vector<bf16> want(n), got(n + 1, 0xabcd);
    float_to_bf16_scalar(x.data(), n, want.data());
    float_to_bf16(x.data(), n, got.data());
    CHECK(std::equal(want.begin(), want.end(), got.begin()));
    CHECK(got[n] == 0xabcd);  // nothing written past the end

    std::vector<float> back_want(n), back_got(n + 1, 7.0f);
    bf16_to_float_scalar(want.data(), n, back_want.data());
    bf16_to_float(want.data(), n, back_got.data());
    std::vector<float> rounded_want(n), rounded_got(n + 1, 7.0f);
    round_to_bf16_scalar(x.data(), n, rounded_want.data());
    round_to_bf16(x.data(), n, rounded_got.data());
    for (int64_t i = 0; i < n; ++i) {
      CHECK(float_bits(back_got[i]) == float_bits(back_want[i]));
      CHECK(float_bits(rounded_got[i]) == float_bits(rounded_want[i]));
    }
    CHECK(back_got[n] == 7.0f);
    CHECK(rounded_got[n] == 7.0f);
  }
  set_gemm_isa_limit(Isa::avx2);  // the scalar path under a lowered level
  CHECK_FALSE(bf16_arrays_vectorized());
  set_gemm_isa_limit(Isa::avx512);
}
