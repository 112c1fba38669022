// sgemm's providers at every ISA level this machine has (the lower ones forced through
// set_gemm_isa_limit) against a double-precision reference: every transpose combination,
// odd sizes, leading dimensions wider than the rows, alpha/beta, k = 0; and the dispatch
// rule's promises (no OpenBLAS below the CPU, the same bits run to run and for any thread
// count).
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/gemm.h"
#include "tests/core/gemm_operands.h"

using namespace cnn;

namespace {

// Restores the default level when a test is done.
struct IsaLimit {
  explicit IsaLimit(Isa limit) { set_gemm_isa_limit(limit); }
  ~IsaLimit() { set_gemm_isa_limit(Isa::avx512); }
};

using gemmtest::make_operands;
using gemmtest::Operands;
using gemmtest::Problem;

// Checks every element against the double sum, within the float error bound of a k-term
// dot product (k + 2 roundings of the sum of absolute terms), and that the padding past
// each row of C is untouched.
void check_against_reference(const Problem& p, const Operands& in, const std::vector<float>& c) {
  int64_t bad = 0;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < in.ldc; ++j) {
      const float got = c[i * in.ldc + j];
      if (j >= p.n) {  // padding
        const float before = in.c[i * in.ldc + j];
        if (!(got == before || (std::isnan(got) && std::isnan(before)))) ++bad;
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t q = 0; q < p.k; ++q) {
        const double av = p.ta ? in.a[q * in.lda + i] : in.a[i * in.lda + q];
        const double bv = p.tb ? in.b[j * in.ldb + q] : in.b[q * in.ldb + j];
        sum += av * bv;
        magnitude += std::fabs(av * bv);
      }
      double expected = p.alpha * sum;
      magnitude = std::fabs(p.alpha) * magnitude;
      if (p.beta != 0.0f) {
        expected += p.beta * static_cast<double>(in.c[i * in.ldc + j]);
        magnitude += std::fabs(p.beta * in.c[i * in.ldc + j]);
      }
      const double bound = (p.k + 3) * 1.2e-7 * magnitude + 1e-30;
      if (!(std::fabs(got - expected) <= bound)) {
        if (bad < 3)
          UNSCOPED_INFO("C[" << i << "," << j << "] = " << got << ", expected " << expected
                             << " (bound " << bound << ")");
        ++bad;
      }
    }
  CHECK(bad == 0);
}

void check_provider(GemmProvider provider, const Problem& p) {
  INFO(gemm_provider_name(provider)
       << " at " << isa_name(gemm_isa()) << ": " << (p.ta ? "T" : "N") << (p.tb ? "T" : "N")
       << " m " << p.m << " n " << p.n << " k " << p.k << " alpha " << p.alpha << " beta " << p.beta
       << " pad " << p.pad);
  const Operands in = make_operands(p, static_cast<uint32_t>(p.m * 131 + p.n * 17 + p.k));
  std::vector<float> c = in.c;
  sgemm_with(provider, p.ta, p.tb, p.m, p.n, p.k, p.alpha, in.a.data(), in.lda, in.b.data(), in.ldb,
             p.beta, c.data(), in.ldc);
  check_against_reference(p, in, c);
}

std::vector<Isa> levels_here() {
  std::vector<Isa> levels;
  for (Isa isa : {Isa::sse3, Isa::avx2, Isa::avx512})
    if (isa <= cpu_features().best) levels.push_back(isa);
  return levels;
}

const GemmProvider kProviders[] = {GemmProvider::packed, GemmProvider::onednn,
                                   GemmProvider::openblas};

}  // namespace

TEST_CASE("CI machines run the avx2 and avx512 levels", "[gemm]") {
  INFO(describe_cpu());
  // This project's development and CI machines are AVX-512 CPUs: both kernel levels run here.
  // On another CPU this says which levels the test below could not reach.
  if (cpu_features().best < Isa::avx512)
    WARN("levels above " << isa_name(cpu_features().best) << " not tested here");
  CHECK(cpu_features().best >= Isa::avx2);
}

TEST_CASE("every provider at every level matches a double reference on odd shapes", "[gemm]") {
  const int64_t sizes[] = {1, 7, 33, 257};
  for (Isa level : levels_here()) {
    IsaLimit limit(level);
    for (GemmProvider provider : kProviders) {
      if (!gemm_provider_available(provider)) continue;
      for (int t = 0; t < 4; ++t)
        for (int64_t m : sizes)
          for (int64_t n : sizes)
            for (int64_t k : sizes) {
              if (m * n * k > 257 * 33 * 33) continue;  // the large ones below, once each
              check_provider(provider, {(t & 1) != 0, (t & 2) != 0, m, n, k, 1.0f, 0.0f, 0});
            }
    }
  }
}

TEST_CASE("providers handle leading dimensions, alpha, beta and k = 0", "[gemm]") {
  const Problem problems[] = {
      {false, false, 257, 33, 257, 0.75f, 0.0f, 5}, {true, false, 33, 257, 257, -1.5f, 1.0f, 3},
      {false, true, 257, 257, 33, 2.0f, -0.5f, 1},  {true, true, 7, 257, 257, 1.0f, 0.25f, 9},
      {false, false, 33, 7, 0, 1.0f, 0.5f, 2},      {true, true, 7, 33, 0, 1.0f, 0.0f, 4},
      {false, false, 1, 1, 0, 3.0f, 1.0f, 0}};
  for (Isa level : levels_here()) {
    IsaLimit limit(level);
    for (GemmProvider provider : kProviders)
      if (gemm_provider_available(provider))
        for (const Problem& p : problems) check_provider(provider, p);
  }
}

TEST_CASE("the packed kernels are right across their cache blocks", "[gemm]") {
  // m past MC (240), k past KC (256, twice), n past NC (1024): every block edge at once
  for (Isa level : levels_here()) {
    if (level < Isa::avx2) continue;
    IsaLimit limit(level);
    for (int t = 0; t < 4; ++t)
      check_provider(GemmProvider::packed,
                     {(t & 1) != 0, (t & 2) != 0, 251, 1041, 521, 1.0f, t == 3 ? 0.5f : 0.0f, 3});
  }
}

TEST_CASE("sgemm's dispatch never routes to OpenBLAS below the CPU's level", "[gemm]") {
  INFO(describe_kernels());
  const int64_t shapes[][3] = {{1, 1, 1},          {64, 16, 16},   {256, 32, 16},  {512, 256, 256},
                               {1024, 1024, 1024}, {128, 10, 256}, {16, 4096, 147}};
  for (Isa level : levels_here()) {
    IsaLimit limit(level);
    for (const auto& s : shapes)
      for (int t = 0; t < 4; ++t) {
        const GemmProvider chosen = gemm_provider_for((t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2]);
        CHECK(gemm_provider_available(chosen));
        if (level >= Isa::avx2 && blas_core().isa < level) CHECK(chosen != GemmProvider::openblas);
      }
  }
}

TEST_CASE("OpenBLAS core names map to their vector level", "[gemm]") {
  bool known = false;
  CHECK(blas_core_isa("Prescott", &known) == Isa::sse3);
  CHECK(known);
  CHECK(blas_core_isa("Sandybridge") == Isa::avx);
  CHECK(blas_core_isa("Haswell") == Isa::avx2);
  CHECK(blas_core_isa("Zen") == Isa::avx2);
  CHECK(blas_core_isa("SkylakeX") == Isa::avx512);
  CHECK(blas_core_isa("COOPERLAKE") == Isa::avx512);
  CHECK(blas_core_isa("FutureLake", &known) == Isa::sse3);
  CHECK_FALSE(known);
  // This process's core: ctest does not force one, so it is the one OpenBLAS chose.
  CHECK_FALSE(blas_core().name.empty());
  CHECK(blas_core().below_cpu == (blas_core().isa < cpu_features().best));
}

TEST_CASE("sgemm gives the same bits run to run and on 1 or 2 threads", "[gemm]") {
  const Problem p{false, true, 300, 200, 700, 1.0f, 0.0f, 0};
  const Operands in = make_operands(p, 7);
  auto run = [&](int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    set_blas_threads(threads);
    std::vector<float> c = in.c;
    sgemm_with(GemmProvider::packed, p.ta, p.tb, p.m, p.n, p.k, p.alpha, in.a.data(), in.lda,
               in.b.data(), in.ldb, p.beta, c.data(), in.ldc);
    omp_set_num_threads(before);
    set_blas_threads(before);
    return c;
  };
  const std::vector<float> once = run(1);
  CHECK(run(1) == once);
  CHECK(run(2) == once);  // C split in whole blocks: each element summed the same way
  std::vector<float> first = in.c, second = in.c;
  for (std::vector<float>* c : {&first, &second})
    sgemm(p.ta, p.tb, p.m, p.n, p.k, p.alpha, in.a.data(), in.lda, in.b.data(), in.ldb, p.beta,
          c->data(), in.ldc);
  CHECK(first == second);
}

TEST_CASE("oneDNN inside OpenMP threads starts no threads and gives its results alone", "[gemm]") {
  if (!gemm_provider_available(GemmProvider::onednn)) return;
  // Each of two OpenMP threads multiplies its own operands, as im2col's chunks do under
  // SingleThreadedBlas, with OpenMP's count at 2 (oneDNN would take 2 if it nested): no new
  // thread appears, and the results equal the same products computed alone.
  const int before = omp_get_max_threads();
  omp_set_num_threads(2);
  const Problem p{false, false, 96, 200, 150, 1.0f, 0.0f, 0};
  const Operands x = make_operands(p, 1), y = make_operands(p, 2);
  std::vector<float> alone[2] = {x.c, y.c}, inside[2] = {x.c, y.c};
  const Operands* in[2] = {&x, &y};
  auto multiply = [&](int i, std::vector<float>& c) {
    sgemm_with(GemmProvider::onednn, false, false, p.m, p.n, p.k, 1.0f, in[i]->a.data(), in[i]->lda,
               in[i]->b.data(), in[i]->ldb, 0.0f, c.data(), in[i]->ldc);
  };
  for (int i = 0; i < 2; ++i) multiply(i, alone[i]);
  auto threads_now = [] {
    int64_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/task"))
      ++count;
    return count;
  };
  std::vector<float> warm(1);
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 2; ++i) warm[0] = 0;  // OpenMP's team of 2 exists before counting
  const int64_t threads_before = threads_now();
  {
    SingleThreadedBlas single;
#pragma omp parallel for num_threads(2)
    for (int i = 0; i < 2; ++i) multiply(i, inside[i]);
  }
  CHECK(threads_now() == threads_before);
  omp_set_num_threads(before);
  CHECK(inside[0] == alone[0]);
  CHECK(inside[1] == alone[1]);
}
