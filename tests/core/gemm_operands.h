// A GEMM problem (transposes, sizes, alpha, beta, row padding) and random operands for it,
// shared by the fp32 dispatch tests and the bf16 ones.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace cnn::gemmtest {

struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  int64_t pad;  // extra floats per row of A, B and C
};

struct Operands {
  int64_t lda, ldb, ldc;
  std::vector<float> a, b, c;
};

inline Operands make_operands(const Problem& p, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Operands o;
  const int64_t a_rows = p.ta ? p.k : p.m, a_cols = p.ta ? p.m : p.k;
  const int64_t b_rows = p.tb ? p.n : p.k, b_cols = p.tb ? p.k : p.n;
  o.lda = a_cols + p.pad;
  o.ldb = b_cols + p.pad;
  o.ldc = p.n + p.pad;
  o.a.resize(std::max<int64_t>(1, a_rows * o.lda));
  o.b.resize(std::max<int64_t>(1, b_rows * o.ldb));
  o.c.resize(p.m * o.ldc);
  for (float& v : o.a) v = uniform(random);
  for (float& v : o.b) v = uniform(random);
  for (float& v : o.c)  // beta == 0 must not read C: NaN there would show
    v = p.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : uniform(random);
  return o;
}

}  // namespace cnn::gemmtest
