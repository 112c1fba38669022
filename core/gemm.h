// Row-major single-precision matrix multiply, the one door to OpenBLAS:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// core/gemm.cpp is the only file that includes cblas.h.
#pragma once

#include <cstdint>

namespace cnn {

void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

// Threads OpenBLAS may use (0 = its default). Kept separate from OpenMP's count.
void set_blas_threads(int threads);
int blas_threads();

}  // namespace cnn
