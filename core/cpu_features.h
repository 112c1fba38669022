// What the CPU can run, read once with cpuid (and xgetbv: the OS must save the wider
// registers too). core/gemm.cpp dispatches on it.
#pragma once

#include <string>

namespace cnn {

// Vector ISA levels cnnlab has kernels for, in order.
enum class Isa { sse3 = 0, avx = 1, avx2 = 2, avx512 = 3 };

const char* isa_name(Isa isa);

struct CpuFeatures {
  std::string vendor;         // "GenuineIntel", "AuthenticAMD", ...
  std::string brand;          // "AMD EPYC 9654 96-Core Processor", or "" when the CPU has none
  int family = 0, model = 0;  // display family and model (extended fields folded in)
  bool avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false;
  bool amx_tile = false, amx_bf16 = false;              // reported only (issue 18)
  bool os_ymm = false, os_zmm = false, os_amx = false;  // XCR0: the OS saves that state
  Isa best = Isa::sse3;                                 // the best level usable here (CPU and OS)
};

// Detected on first call, then the same object.
const CpuFeatures& cpu_features();

// One line: "AMD EPYC ... (AuthenticAMD family 25 model 17): avx512 (avx2 fma avx512f ...)".
std::string describe_cpu();

}  // namespace cnn
