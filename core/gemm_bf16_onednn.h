// oneDNN's bf16 matmul (core/gemm_bf16_onednn.cpp), internal to core: gemm_bf16.cpp calls it.
#pragma once

#include <cstdint>
#include <string>

#include "core/bf16.h"

namespace cnn {

// c [m,n] (row stride ldc) = alpha * op(a) [m,k] * op(b) [k,n] + beta * c; a and b dense
// bf16, stored [m,k] and [k,n] (or [k,m] and [n,k] when transposed); oneDNN runs `threads`
// threads (1 inside an OpenMP parallel region).
void onednn_bf16_matmul(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                        const bf16* a, const bf16* b, float beta, float* c, int64_t ldc,
                        int threads);

// The implementation oneDNN picks for a dense m x n x k bf16 matmul ("brg:avx512_core_bf16").
std::string onednn_bf16_implementation(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                       int threads);

// oneDNN's ISA for the process: AMX, or at least AVX512-BF16.
bool onednn_bf16_isa_is_amx();
bool onednn_bf16_isa_has_bf16();

}  // namespace cnn
