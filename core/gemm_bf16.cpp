// The bf16 GEMM door (see gemm_bf16.h): the operands rounded once into this thread's
// buffers, then the path's product. The path is the same for every shape (the figures per
// shape: docs/precision.md), so a run's bits depend on the CPU and the thread count alone.
#include "core/gemm_bf16.h"

#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/bf16.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/gemm_bf16_onednn.h"
#include "core/gemm_bf16_packed.h"

namespace cnn {

namespace {

constexpr int kAutomatic = -1;
std::atomic<int> forced_path{kAutomatic};

// Threads the path may start: one inside a parallel region (as sgemm's providers).
int call_threads() {
  return omp_in_parallel() ? 1 : std::max(1, std::min(blas_threads(), omp_get_max_threads()));
}

struct AmxPermission {
  bool granted = false;
  std::string reason;
};

// Linux (5.16 on) hands out AMX's 8 KiB tile state only to a process that asks for it.
AmxPermission ask_for_amx() {
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  const CpuFeatures& cpu = cpu_features();
  if (!cpu.amx_tile || !cpu.amx_bf16) return {false, "the CPU has no AMX-BF16 tiles"};
  if (!cpu.os_amx) return {false, "the OS does not enable AMX's tile state (XCR0)"};
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
    return {false, std::string("the kernel refused AMX's tile data (arch_prctl "
                               "ARCH_REQ_XCOMP_PERM: ") +
                       std::strerror(errno) + ")"};
  return {true, ""};
}

const AmxPermission& amx_permission() {
  static const AmxPermission permission = ask_for_amx();
  return permission;
}

// This thread's operand buffers: A and B as stored, dense, rounded.
thread_local std::vector<bf16> a_bf16, b_bf16;
thread_local std::vector<float> a_rounded, b_rounded;

// x [rows, cols] with row stride ld rounded to bf16 into dense row-major y.
void to_bf16_rows(int64_t rows, int64_t cols, const float* x, int64_t ld, bf16* y) {
  for (int64_t i = 0; i < rows; ++i) float_to_bf16(x + i * ld, cols, y + i * cols);
}

// x [rows, cols] with row stride ld, rounded to bf16 values in dense float y [rows, cols].
void rounded_rows(int64_t rows, int64_t cols, const float* x, int64_t ld, float* y) {
  for (int64_t i = 0; i < rows; ++i) round_to_bf16(x + i * ld, cols, y + i * cols);
}

void emulated_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  a_rounded.resize(a_rows * a_cols);
  b_rounded.resize(b_rows * b_cols);
  rounded_rows(a_rows, a_cols, a, lda, a_rounded.data());
  rounded_rows(b_rows, b_cols, b, ldb, b_rounded.data());
  sgemm_with(gemm_provider_for(ta, tb, m, n, k), ta, tb, m, n, k, alpha, a_rounded.data(), a_cols,
             b_rounded.data(), b_cols, beta, c, ldc);
}

// oneDNN takes omp_get_max_threads() threads outside a parallel region: ours for the call.
void onednn_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  a_bf16.resize(m * k);
  b_bf16.resize(k * n);
  // Each operand rounded as it is stored (its rows in place, vectorized); oneDNN reads a
  // transposed one through its strides.
  to_bf16_rows(ta ? k : m, ta ? m : k, a, lda, a_bf16.data());
  to_bf16_rows(tb ? n : k, tb ? k : n, b, ldb, b_bf16.data());
  const int threads = call_threads();
  const int before = omp_get_max_threads();
  const bool set = !omp_in_parallel() && before != threads;
  if (set) omp_set_num_threads(threads);
  onednn_bf16_matmul(ta, tb, m, n, k, alpha, a_bf16.data(), b_bf16.data(), beta, c, ldc, threads);
  if (set) omp_set_num_threads(before);
}

// C = beta * C (k == 0; beta == 0 writes zeros, never reads C).
void scale_only(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

}  // namespace

const char* bf16_path_name(Bf16Path path) {
  switch (path) {
    case Bf16Path::emulated:
      return "emulated";
    case Bf16Path::avx512_bf16:
      return "avx512_bf16";
    case Bf16Path::amx:
      return "amx";
  }
  return "?";
}

bool amx_permitted(std::string* reason) {
  const AmxPermission& permission = amx_permission();
  if (reason) *reason = permission.reason;
  return permission.granted;
}

bool bf16_path_available(Bf16Path path, std::string* reason) {
  std::string why;
  bool available = true;
  if (path == Bf16Path::amx) {
    available = amx_permitted(&why);
    if (available && !onednn_bf16_isa_is_amx()) {
      available = false;
      why = "oneDNN does not run its AMX kernels here";
    }
  } else if (path == Bf16Path::avx512_bf16) {
    if (!cpu_features().avx512_bf16) {
      available = false;
      why = "the CPU has no AVX512-BF16";
    } else if (gemm_isa() < Isa::avx512) {
      available = false;
      why = std::string("the gemm level is lowered to ") + isa_name(gemm_isa());
    }
  }
  if (reason) *reason = why;
  return available;
}

Bf16Path bf16_path() {
  const int forced = forced_path.load();
  if (forced != kAutomatic) return static_cast<Bf16Path>(forced);
  if (bf16_path_available(Bf16Path::amx)) return Bf16Path::amx;
  if (bf16_path_available(Bf16Path::avx512_bf16)) return Bf16Path::avx512_bf16;
  return Bf16Path::emulated;
}

void set_bf16_path(Bf16Path path) {
  std::string reason;
  CNN_CHECK(bf16_path_available(path, &reason), "gemm_bf16: the ", bf16_path_name(path),
            " path cannot run here: ", reason);
  forced_path.store(static_cast<int>(path));
}

void bf16_path_automatic() { forced_path.store(kAutomatic); }

const char* bf16_kernel_name(Bf16Kernel kernel) {
  return kernel == Bf16Kernel::packed ? "packed" : "onednn";
}

// oneDNN's matmul serves the avx512_bf16 path only where oneDNN is not on AMX (it takes
// AMX for every bf16 matmul once it may): there it is the amx path's.
bool bf16_kernel_available(Bf16Kernel kernel) {
  if (kernel == Bf16Kernel::packed) return bf16_path_available(Bf16Path::avx512_bf16);
  return onednn_bf16_isa_has_bf16() && gemm_isa() == cpu_features().best;
}

// oneDNN's brgemm wherever it serves the path: measured against the own 12 x 32 kernel on
// every bf16 shape of a vgg6 step (bench --kernels, Zen 4, 2 threads, best of 3 runs,
// docs/precision.md) it was faster on 14 of 16 and level with it on the other 2 (up to 8x
// on NN 128x256x1152). The own kernel is the avx512_bf16 path where oneDNN is on AMX, and
// the fallback where oneDNN runs no bf16 kernel.
Bf16Kernel bf16_kernel_for(Bf16Path path, bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
  (void)ta, (void)tb, (void)m, (void)n, (void)k;  // one rule for every shape, for now
  if (path == Bf16Path::amx) return Bf16Kernel::onednn;
  const bool onednn = bf16_kernel_available(Bf16Kernel::onednn) && !onednn_bf16_isa_is_amx();
  return onednn ? Bf16Kernel::onednn : Bf16Kernel::packed;
}

void bf16_gemm_kernel(Bf16Kernel kernel, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                      float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                      float beta, float* c, int64_t ldc) {
  CNN_CHECK(bf16_kernel_available(kernel), "gemm_bf16: the ", bf16_kernel_name(kernel),
            " bf16 kernel cannot run here");
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_only(m, n, beta, c, ldc);
  if (kernel == Bf16Kernel::packed)
    return packed_bf16_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                                   call_threads());
  onednn_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bf16_gemm_with(Bf16Path path, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_only(m, n, beta, c, ldc);
  if (path == Bf16Path::emulated)
    return emulated_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  bf16_gemm_kernel(bf16_kernel_for(path, ta, tb, m, n, k), ta, tb, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

void bf16_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  record_gemm_shape(ta, tb, m, n, k);
  bf16_gemm_with(bf16_path(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::string bf16_onednn_implementation(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
  if (!bf16_path_available(Bf16Path::avx512_bf16) && !bf16_path_available(Bf16Path::amx)) return "";
  return onednn_bf16_implementation(ta, tb, m, n, k, call_threads());
}

std::string describe_bf16_kernels() {
  std::string line = std::string("bf16 gemm: ") + bf16_path_name(bf16_path()) + " (";
  for (Bf16Path path : {Bf16Path::amx, Bf16Path::avx512_bf16, Bf16Path::emulated}) {
    std::string reason;
    const bool available = bf16_path_available(path, &reason);
    line += std::string(bf16_path_name(path)) + ": " + (available ? "available" : reason);
    if (path != Bf16Path::emulated) line += "; ";
  }
  line += ")";
  if (bf16_kernel_available(Bf16Kernel::onednn))
    line += ", oneDNN bf16 matmul " + bf16_onednn_implementation(false, false, 256, 256, 256);
  return line;
}

}  // namespace cnn
