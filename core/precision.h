// The compute precision of the layers' GEMMs, one process-wide setting (train.precision,
// `--precision` on bench and eval): fp32, or bf16 operands with fp32 accumulation
// (core/gemm_bf16.h). The convolutions' and linear layers' forward and both backward
// products call compute_gemm, which reads it; nothing else changes with it: normalization
// statistics and affine math, the loss, the master weights, the optimizer and its state stay
// fp32 (docs/precision.md).
#pragma once

#include <cstdint>
#include <string>

namespace cnn {

enum class Precision { fp32, bf16 };
const char* precision_name(Precision precision);
// "fp32" or "bf16"; anything else is an error naming `where` (a key path or a flag).
Precision precision_from_name(const std::string& name, const std::string& where);

void set_compute_precision(Precision precision);
Precision compute_precision();

// Sets the precision for a scope and restores the one before (tests, bench).
class ScopedPrecision {
 public:
  explicit ScopedPrecision(Precision precision) : before_(compute_precision()) {
    set_compute_precision(precision);
  }
  ~ScopedPrecision() { set_compute_precision(before_); }
  ScopedPrecision(const ScopedPrecision&) = delete;
  ScopedPrecision& operator=(const ScopedPrecision&) = delete;

 private:
  Precision before_;
};

// The layers' GEMM (sgemm's arguments, core/gemm.h): sgemm in fp32, bf16_gemm in bf16.
void compute_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc);

}  // namespace cnn
