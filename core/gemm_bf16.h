// The bf16 GEMM door, beside sgemm (core/gemm.h): row-major, fp32 in and out,
//   C[M,N] = alpha * bf16(op(A))[M,K] * bf16(op(B))[K,N] + beta * C
// with both operands rounded to bf16 (round to nearest even, core/bf16.h) and the products
// summed in fp32. Paths, chosen at run time:
//   emulated     the operands rounded to bf16 in fp32 arrays, then sgemm: the semantics on
//                any CPU, and the reference the other paths are tested against;
//   avx512_bf16  vdpbf16ps on AVX512-BF16, where the CPU has it: oneDNN's bf16 matmul
//                (brgemm, measured faster per shape) where oneDNN is not on AMX, else
//                cnnlab's own packed kernel (core/gemm_bf16_avx512.cpp);
//   amx          oneDNN's bf16 matmul on AMX tiles, where the CPU has AMX-BF16 and the
//                kernel grants this process the tile state (arch_prctl, asked once).
// Every path computes the same rounded products; only the order of the fp32 sums differs.
#pragma once

#include <cstdint>
#include <string>

namespace cnn {

enum class Bf16Path { emulated, avx512_bf16, amx };
const char* bf16_path_name(Bf16Path path);

// Whether `path` runs here; if not, *reason (when given) says why in a sentence.
bool bf16_path_available(Bf16Path path, std::string* reason = nullptr);

// The path bf16_gemm takes: the forced one (set_bf16_path), else the best available.
Bf16Path bf16_path();
// Tests and bench: force a path (it must be available); bf16_path_automatic() undoes it.
void set_bf16_path(Bf16Path path);
void bf16_path_automatic();

void bf16_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

// bf16_gemm through one path (the tests, bench's table); it must be available.
void bf16_gemm_with(Bf16Path path, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                    int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                    int64_t ldb, float beta, float* c, int64_t ldc);

// The kernels behind the paths (bf16_kernel_for: the rule and its measurement), the amx
// path's always oneDNN's matmul (on AMX tiles once the process may use them).
enum class Bf16Kernel { packed, onednn };
const char* bf16_kernel_name(Bf16Kernel kernel);
bool bf16_kernel_available(Bf16Kernel kernel);
Bf16Kernel bf16_kernel_for(Bf16Path path, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                           int64_t k);
// bf16_gemm through one kernel (bench's table); it must be available.
void bf16_gemm_kernel(Bf16Kernel kernel, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                      int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                      int64_t ldb, float beta, float* c, int64_t ldc);

// Whether the kernel granted this process AMX's tile data (asked on the first call, once:
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); false on a CPU without AMX.
bool amx_permitted(std::string* reason = nullptr);

// oneDNN's implementation for one bf16 matmul shape ("brg:avx512_core_bf16", ...), for
// bench's table; "" where oneDNN's bf16 matmul does not run here.
std::string bf16_onednn_implementation(bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                                       int64_t k);

// One line for train.log and bench: each path, available or why not, and the one in use.
std::string describe_bf16_kernels();

}  // namespace cnn
