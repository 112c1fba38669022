// cnnlab's own bf16 GEMM kernel (core/gemm_bf16_avx512.cpp), internal to core: the
// avx512_bf16 path of core/gemm_bf16.cpp where oneDNN's matmul does not serve it.
#pragma once

#include <cstdint>

namespace cnn {

// C[m,n] = alpha * bf16(op(A)) bf16(op(B)) + beta * C (gemm_bf16.h's semantics, fp32 sums),
// on up to `threads` OpenMP threads (1 inside a parallel region). m, n, k > 0.
void packed_bf16_gemm_avx512(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k,
                             float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                             float beta, float* c, int64_t ldc, int threads);

}  // namespace cnn
