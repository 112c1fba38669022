// The bf16 GEMM door (core/gemm_bf16.h): the emulated path against a double-precision sum
// of the bf16-rounded operands, and every other path available here against the emulated
// one, over every transpose combination, odd sizes, padded rows, alpha/beta and k = 0.
// The AMX path is reported as skipped, with the reason, on a CPU (or kernel) without it.
//
// Tolerance. Every path multiplies the same bf16 values (each product exact in fp32: two
// 8-bit significands) and sums them in fp32; only the order of the sums differs. A k-term
// fp32 sum in any order is within (k - 1) u sum|a_i b_i| of the exact one (u = 2^-24), the
// alpha and beta terms add a few u more, so two paths differ by at most
//   2 (k + 2) u (|alpha| sum|a||b| + |beta| |c|)
// which is what the comparisons below allow (and the emulated path half of it against the
// exact double sum).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/bf16.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "tests/core/gemm_operands.h"
#include "tests/omp_threads.h"

using namespace cnn;

namespace {

using gemmtest::make_operands;
using gemmtest::Operands;
using gemmtest::Problem;

std::vector<float> run_kernel(Bf16Kernel kernel, const Problem& p, const Operands& in) {
  std::vector<float> c = in.c;
  bf16_gemm_kernel(kernel, p.ta, p.tb, p.m, p.n, p.k, p.alpha, in.a.data(), in.lda, in.b.data(),
                   in.ldb, p.beta, c.data(), in.ldc);
  return c;
}

std::vector<float> run(Bf16Path path, const Problem& p, const Operands& in) {
  std::vector<float> c = in.c;
  bf16_gemm_with(path, p.ta, p.tb, p.m, p.n, p.k, p.alpha, in.a.data(), in.lda, in.b.data(), in.ldb,
                 p.beta, c.data(), in.ldc);
  return c;
}

// Element (i, j): the exact sum of the rounded products (double) and the bound's scale.
struct Exact {
  double value, scale;
};
Exact exact(const Problem& p, const Operands& in, int64_t i, int64_t j) {
  double sum = 0, magnitude = 0;
  for (int64_t q = 0; q < p.k; ++q) {
    const double av = round_to_bf16(p.ta ? in.a[q * in.lda + i] : in.a[i * in.lda + q]);
    const double bv = round_to_bf16(p.tb ? in.b[j * in.ldb + q] : in.b[q * in.ldb + j]);
    sum += av * bv;
    magnitude += std::fabs(av * bv);
  }
  const double c0 = p.beta == 0.0f ? 0.0 : in.c[i * in.ldc + j];
  return {p.alpha * sum + p.beta * c0,
          std::fabs(p.alpha) * magnitude + std::fabs(p.beta) * std::fabs(c0)};
}

// Counts the elements of `got` off `want` (or the exact sum when want is null) by more than
// `factor` (k + 2) u scale, and padding that changed.
int64_t count_off(const Problem& p, const Operands& in, const std::vector<float>& got,
                  const std::vector<float>* want, double factor) {
  const double u = std::ldexp(1.0, -24);
  int64_t bad = 0;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < in.ldc; ++j) {
      const float g = got[i * in.ldc + j];
      if (j >= p.n) {
        const float before = in.c[i * in.ldc + j];
        if (!(g == before || (std::isnan(g) && std::isnan(before)))) ++bad;
        continue;
      }
      const Exact e = exact(p, in, i, j);
      const double reference = want ? (*want)[i * in.ldc + j] : e.value;
      const double bound = factor * (p.k + 2) * u * e.scale + 1e-30;
      if (!(std::fabs(g - reference) <= bound)) {
        if (++bad <= 3)
          UNSCOPED_INFO("C[" << i << "," << j << "] = " << g << ", reference " << reference
                             << ", bound " << bound);
      }
    }
  return bad;
}

std::vector<Problem> problems() {
  std::vector<Problem> list;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      list.push_back({ta, tb, 1, 1, 1, 1.0f, 0.0f, 0});
      list.push_back({ta, tb, 7, 13, 5, 1.0f, 0.0f, 3});
      list.push_back({ta, tb, 37, 45, 300, 0.5f, 1.0f, 2});
      list.push_back({ta, tb, 64, 576, 147, 1.0f, 0.0f, 0});
      list.push_back({ta, tb, 130, 67, 1029, -1.5f, 0.25f, 1});
      list.push_back({ta, tb, 5, 9, 0, 1.0f, 0.5f, 1});  // k = 0: C = beta C
    }
  return list;
}

std::string describe(const Problem& p) {
  return std::string(p.ta ? "T" : "N") + (p.tb ? "T" : "N") + " " + std::to_string(p.m) + "x" +
         std::to_string(p.n) + "x" + std::to_string(p.k) + " alpha " + std::to_string(p.alpha) +
         " beta " + std::to_string(p.beta) + " pad " + std::to_string(p.pad);
}

void check_path_against_emulated(Bf16Path path) {
  uint32_t seed = 1;
  for (const Problem& p : problems()) {
    INFO(bf16_path_name(path) << " " << describe(p));
    const Operands in = make_operands(p, seed++);
    const std::vector<float> reference = run(Bf16Path::emulated, p, in);
    CHECK(count_off(p, in, run(path, p, in), &reference, 2.0) == 0);
  }
}

}  // namespace

TEST_CASE("bf16 gemm: the emulated path is the fp32 sum of the bf16-rounded operands",
          "[gemm_bf16]") {
  uint32_t seed = 100;
  for (const Problem& p : problems()) {
    INFO(describe(p));
    const Operands in = make_operands(p, seed++);
    CHECK(count_off(p, in, run(Bf16Path::emulated, p, in), nullptr, 1.0) == 0);
  }
  // The rounding happens: 1 + 2^-9 is a tie between bf16's 1 and 1 + 2^-7 (to even: 1), and
  // 1 + 3 * 2^-9 rounds up to 1 + 2^-7.
  const float a[2] = {1.0f + 1.0f / 512, 1.0f + 3.0f / 512}, b[2] = {1.0f, 1.0f};
  float c = 0;
  bf16_gemm_with(Bf16Path::emulated, false, false, 1, 1, 2, 1.0f, a, 2, b, 1, 0.0f, &c, 1);
  CHECK(c == 2.0f + 1.0f / 128);
}

TEST_CASE("bf16 gemm: the avx512_bf16 path against the emulated one", "[gemm_bf16]") {
  std::string reason;
  if (!bf16_path_available(Bf16Path::avx512_bf16, &reason)) {
    WARN("avx512_bf16 path skipped: " << reason);
    return;
  }
  check_path_against_emulated(Bf16Path::avx512_bf16);
}

TEST_CASE("bf16 gemm: each kernel (own packed, oneDNN) against the emulated path, 1 and 2 threads",
          "[gemm_bf16]") {
  for (Bf16Kernel kernel : {Bf16Kernel::packed, Bf16Kernel::onednn}) {
    if (!bf16_kernel_available(kernel)) {
      WARN("the " << bf16_kernel_name(kernel) << " bf16 kernel does not run here: skipped");
      continue;
    }
    for (int threads : {1, 2}) {
      testing::ScopedOmpThreads scoped(threads);
      const int blas_before = blas_threads();
      set_blas_threads(threads);
      uint32_t seed = 50;
      for (const Problem& p : problems()) {
        INFO(bf16_kernel_name(kernel) << " " << threads << " threads " << describe(p));
        const Operands in = make_operands(p, seed++);
        const std::vector<float> reference = run(Bf16Path::emulated, p, in);
        CHECK(count_off(p, in, run_kernel(kernel, p, in), &reference, 2.0) == 0);
      }
      set_blas_threads(blas_before);
    }
  }
}

TEST_CASE("bf16 gemm: the amx path against the emulated one", "[gemm_bf16]") {
  std::string reason;
  if (!bf16_path_available(Bf16Path::amx, &reason)) {
    WARN("amx path skipped: " << reason);
    return;
  }
  check_path_against_emulated(Bf16Path::amx);
}

TEST_CASE("bf16 gemm: the automatic path is the best available and is described", "[gemm_bf16]") {
  bf16_path_automatic();
  const Bf16Path path = bf16_path();
  CHECK(bf16_path_available(path));
  if (bf16_path_available(Bf16Path::amx)) CHECK(path == Bf16Path::amx);
  if (cpu_features().avx512_bf16 && !bf16_path_available(Bf16Path::amx))
    CHECK(path == Bf16Path::avx512_bf16);
  const std::string line = describe_bf16_kernels();
  CHECK(line.find(std::string("bf16 gemm: ") + bf16_path_name(path)) == 0);
  CHECK(describe_kernels().find(line) != std::string::npos);  // train.log's kernels line
  std::string reason;
  if (!amx_permitted(&reason)) CHECK(line.find(reason) != std::string::npos);

  set_bf16_path(Bf16Path::emulated);  // forced, then undone
  CHECK(bf16_path() == Bf16Path::emulated);
  bf16_path_automatic();
  CHECK(bf16_path() == path);
  if (!bf16_path_available(Bf16Path::amx))
    CHECK_THROWS_WITH(set_bf16_path(Bf16Path::amx),
                      Catch::Contains("the amx path cannot run here"));
}

TEST_CASE("bf16 gemm: a lowered gemm level leaves only the emulated path", "[gemm_bf16]") {
  set_gemm_isa_limit(Isa::avx2);
  bf16_path_automatic();
  CHECK_FALSE(bf16_path_available(Bf16Path::avx512_bf16));
  if (!bf16_path_available(Bf16Path::amx)) CHECK(bf16_path() == Bf16Path::emulated);
  const Problem p{false, true, 19, 23, 41, 1.0f, 0.0f, 1};
  const Operands in = make_operands(p, 7);
  CHECK(count_off(p, in, run(Bf16Path::emulated, p, in), nullptr, 1.0) == 0);
  set_gemm_isa_limit(Isa::avx512);
}
