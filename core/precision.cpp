// The compute precision setting and the layers' GEMM (see precision.h).
#include "core/precision.h"

#include <atomic>

#include "core/error.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"

namespace cnn {

namespace {
std::atomic<int> setting{static_cast<int>(Precision::fp32)};
}  // namespace

const char* precision_name(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

Precision precision_from_name(const std::string& name, const std::string& where) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  CNN_FAIL(where, ": expected fp32 or bf16, found '", name, "'");
}

void set_compute_precision(Precision precision) { setting.store(static_cast<int>(precision)); }

Precision compute_precision() { return static_cast<Precision>(setting.load()); }

void compute_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc) {
  if (compute_precision() == Precision::bf16)
    return bf16_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace cnn
