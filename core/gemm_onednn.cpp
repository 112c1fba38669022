// The only file that includes dnnl.h: oneDNN's sgemm (row-major, JIT-compiled for the CPU
// at run time). Debian's libdnnl 2.6 runs on OpenMP (libgomp, the same runtime as ours):
// called inside an OpenMP parallel region it runs single-threaded (oneDNN checks
// omp_in_parallel), outside it takes omp_get_max_threads() threads, which gemm.cpp sets.
#include <dnnl.h>

#include "core/error.h"
#include "core/gemm_providers.h"

namespace cnn {

void onednn_sgemm(const GemmArgs& g) {
  const dnnl_status_t status = dnnl_sgemm(g.ta ? 'T' : 'N', g.tb ? 'T' : 'N', g.m, g.n, g.k,
                                          g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
  CNN_CHECK(status == dnnl_success, "gemm: oneDNN's dnnl_sgemm failed with status ",
            static_cast<int>(status), " for ", g.m, "x", g.n, "x", g.k);
}

const char* onednn_isa_name() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

}  // namespace cnn
