// The GEMM providers behind core/gemm.cpp's dispatch (internal to core; callers use sgemm).
// Each takes the row-major problem of gemm.h; m, n > 0 and k >= 0.
#pragma once

#include <cstdint>

namespace cnn {

struct GemmArgs {
  bool ta, tb;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
};

// OpenBLAS (core/gemm_openblas.cpp).
void openblas_sgemm(const GemmArgs& g);
void openblas_set_threads(int threads);
int openblas_threads();

// oneDNN's dnnl_sgemm (core/gemm_onednn.cpp), with its JIT ISA for the log.
void onednn_sgemm(const GemmArgs& g);
const char* onednn_isa_name();

// cnnlab's packed kernels (core/gemm_packed_*.cpp, each compiled for its ISA alone): rows
// [r0, r1) and columns [c0, c1) of C, with this thread's pack buffers of
// packed_a_floats / packed_b_floats floats.
struct PackedBlocking {
  int64_t mr, nr, mc, kc, nc;
};
constexpr PackedBlocking kPackedAvx512{12, 32, 240, 256, 1024};
constexpr PackedBlocking kPackedAvx2{6, 16, 240, 256, 1024};
constexpr int64_t packed_a_floats(const PackedBlocking& p) { return p.mc * p.kc; }
constexpr int64_t packed_b_floats(const PackedBlocking& p) { return p.kc * p.nc; }

void packed_sgemm_avx512(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                         float* pack_a, float* pack_b);
void packed_sgemm_avx2(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                       float* pack_a, float* pack_b);

// The direct path for small B (k x n up to kDirectMaxB floats): A read in place, B in
// place or copied once into b_buffer (direct_*_b_floats floats; 0: in place) when `pack`
// (threads sharing one copy pack it once, before they split the rows).
constexpr int64_t kDirectMaxB = int64_t{1} << 16;
int64_t direct_avx512_b_floats(const GemmArgs& g);
int64_t direct_avx2_b_floats(const GemmArgs& g);
void direct_sgemm_avx512(const GemmArgs& g, int64_t r0, int64_t r1, float* b_buffer, bool pack);
void direct_sgemm_avx2(const GemmArgs& g, int64_t r0, int64_t r1, float* b_buffer, bool pack);

// The dot path for A not transposed and B transposed (C = A B^T, both read along K in
// place): rows [r0, r1) x columns [c0, c1) of C.
void dot_sgemm_avx512(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1);
void dot_sgemm_avx2(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1);

}  // namespace cnn
