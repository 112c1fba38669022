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

// OpenBLAS single-threaded for a scope (restored after), while OpenMP threads call it: no
// handing work between two thread pools for every small product.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : before_(blas_threads()) { set_blas_threads(1); }
  ~SingleThreadedBlas() { set_blas_threads(before_); }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int before_;
};

}  // namespace cnn
