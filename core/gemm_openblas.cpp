// The only file that talks to OpenBLAS directly: its sgemm, its thread count and what core
// (kernel set) its DYNAMIC_ARCH build chose at load.
#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "core/gemm.h"
#include "core/gemm_providers.h"

namespace cnn {

void openblas_sgemm(const GemmArgs& g) {
  cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), g.alpha, g.a,
              static_cast<int>(g.lda), g.b, static_cast<int>(g.ldb), g.beta, g.c,
              static_cast<int>(g.ldc));
}

void openblas_set_threads(int threads) { openblas_set_num_threads(threads); }
int openblas_threads() { return openblas_get_num_threads(); }

// OpenBLAS 0.3.21's DYNAMIC_ARCH core names (driver/others/dynamic.c) by the widest vector
// instructions their sgemm kernels use.
Isa blas_core_isa(const std::string& name, bool* known) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  struct Entry {
    const char* name;
    Isa isa;
  };
  static const Entry table[] = {{"katmai", Isa::sse3},       {"coppermine", Isa::sse3},
                                {"northwood", Isa::sse3},    {"prescott", Isa::sse3},
                                {"banias", Isa::sse3},       {"atom", Isa::sse3},
                                {"core2", Isa::sse3},        {"penryn", Isa::sse3},
                                {"dunnington", Isa::sse3},   {"nehalem", Isa::sse3},
                                {"athlon", Isa::sse3},       {"opteron", Isa::sse3},
                                {"opteron_sse3", Isa::sse3}, {"barcelona", Isa::sse3},
                                {"nano", Isa::sse3},         {"bobcat", Isa::sse3},
                                {"sandybridge", Isa::avx},   {"bulldozer", Isa::avx},
                                {"piledriver", Isa::avx},    {"steamroller", Isa::avx},
                                {"excavator", Isa::avx},     {"haswell", Isa::avx2},
                                {"zen", Isa::avx2},          {"skylakex", Isa::avx512},
                                {"cooperlake", Isa::avx512}, {"sapphirerapids", Isa::avx512}};
  for (const Entry& e : table)
    if (lower == e.name) {
      if (known) *known = true;
      return e.isa;
    }
  if (known) *known = false;
  return Isa::sse3;
}

const BlasCore& blas_core() {
  static const BlasCore core = [] {
    BlasCore c;
    const char* name = openblas_get_corename();
    const char* config = openblas_get_config();
    c.name = name ? name : "";
    c.config = config ? config : "";
    while (!c.name.empty() && std::isspace(static_cast<unsigned char>(c.name.back())))
      c.name.pop_back();
    while (!c.config.empty() && std::isspace(static_cast<unsigned char>(c.config.back())))
      c.config.pop_back();
    c.isa = blas_core_isa(c.name, &c.known);
    c.below_cpu = c.isa < cpu_features().best;
    return c;
  }();
  return core;
}

}  // namespace cnn
