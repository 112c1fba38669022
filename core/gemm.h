// Row-major single-precision matrix multiply, the one door to the GEMM kernels:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// sgemm picks a provider per shape at run time (core/gemm.cpp): cnnlab's own packed kernels
// (AVX-512 or AVX2+FMA, chosen by cpuid), oneDNN's JIT sgemm, or OpenBLAS, the reference,
// taken only when the core it picked is one cnnlab knows at the CPU's own level.
// core/gemm_openblas.cpp is the only file that includes cblas.h, core/gemm_onednn.cpp the
// only one that includes dnnl.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/cpu_features.h"

namespace cnn {

void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

// Threads the GEMM providers may use (0 = leave as is). Kept separate from OpenMP's count;
// inside an OpenMP parallel region every provider runs single-threaded.
void set_blas_threads(int threads);
int blas_threads();

// The GEMM providers for single-threaded scope (restored after), while OpenMP threads call
// them: no handing work between two thread pools for every small product.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : before_(blas_threads()) { set_blas_threads(1); }
  ~SingleThreadedBlas() { set_blas_threads(before_); }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int before_;
};

// ---- the dispatch, for bench, the log and the tests ----

enum class GemmProvider { packed, onednn, openblas };
const char* gemm_provider_name(GemmProvider provider);

// OpenBLAS's kernel choice as it reports it: openblas_get_corename() ("Zen", "Prescott",
// ...) and openblas_get_config(); isa is the vector level of that core's kernels.
struct BlasCore {
  std::string name, config;
  Isa isa = Isa::sse3;
  bool known = false;      // a core name cnnlab knows the level of (else treated as sse3)
  bool below_cpu = false;  // isa below the CPU's best level: sgemm does not route to it
};
const BlasCore& blas_core();

// The vector level of an OpenBLAS core name (case-insensitive); *known = false for a name
// not in the table.
Isa blas_core_isa(const std::string& name, bool* known = nullptr);

// The level the own kernels run at: the CPU's best, or lower under set_gemm_isa_limit.
// Tests only: lowering it also takes oneDNN out of the dispatch (it picks its own level
// once per process), and OpenBLAS stays out while its core is below the limit.
Isa gemm_isa();
void set_gemm_isa_limit(Isa limit);

// Whether `provider` can run here at the current level (packed: AVX2+FMA at least).
bool gemm_provider_available(GemmProvider provider);

// The provider sgemm uses for this shape.
GemmProvider gemm_provider_for(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k);

// sgemm through one provider (bench's table, the tests); it must be available.
void sgemm_with(GemmProvider provider, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                float beta, float* c, int64_t ldc);

// The shapes sgemm is called with while recording (bench's kernel table): each distinct
// shape with its number of calls. Calls from any thread are counted.
struct GemmShape {
  bool transpose_a = false, transpose_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t calls = 0;
};
void start_recording_gemm_shapes();
std::vector<GemmShape> stop_recording_gemm_shapes();
// Counts one call while recording (sgemm does; so does the bf16 door, core/gemm_bf16.h).
void record_gemm_shape(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k);

// One line for train.log and bench: the CPU's level, the provider per shape class, OpenBLAS's
// core, and the bf16 door's path (core/gemm_bf16.h's describe_bf16_kernels). kernel_warning() is "" or a sentence saying that OpenBLAS's core is below the CPU
// and that cnnlab routes around it.
std::string describe_kernels();
std::string kernel_warning();

}  // namespace cnn
