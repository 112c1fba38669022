// oneDNN's bf16 matmul for core/gemm_bf16.cpp (with core/gemm_onednn.cpp one of the two
// files that include oneDNN's headers): dst f32 [M,N] (row stride ldc) = alpha * src bf16
// [M,K] * weights bf16 [K,N] + beta * dst, both operands dense, either one stored transposed
// (strides {1, M} and {1, K}: no copy to transpose them). oneDNN picks its
// kernel from the CPU once per process (brgemm on avx512_core_bf16, on AMX tiles where the
// process may use them). One primitive per shape and thread count, kept per thread, with a
// per-thread scratchpad: threads calling it inside an OpenMP region share nothing.
#include "core/gemm_bf16_onednn.h"

#include <dnnl.hpp>
#include <map>
#include <tuple>
#include <vector>

#include "core/error.h"

namespace cnn {

namespace {

using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, float, float, int>;

struct Matmul {
  dnnl::matmul primitive;
  dnnl::memory::desc src, weights, dst, scratchpad;
  std::string implementation;
};

const dnnl::engine& engine() {
  static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

Matmul make_matmul(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t ldc, float alpha,
                   float beta) {
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  Matmul mm;
  mm.src = dnnl::memory::desc({m, k}, dt::bf16, ta ? dims{1, m} : dims{k, 1});
  mm.weights = dnnl::memory::desc({k, n}, dt::bf16, tb ? dims{1, k} : dims{n, 1});
  mm.dst = dnnl::memory::desc({m, n}, dt::f32, dnnl::memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(mm.src, mm.weights, mm.dst), attr,
                                        engine());
  mm.scratchpad = pd.scratchpad_desc();
  mm.implementation = pd.impl_info_str();
  mm.primitive = dnnl::matmul(pd);
  return mm;
}

thread_local std::map<Key, Matmul> matmuls;
thread_local std::vector<char> scratchpad_buffer;

const Matmul& matmul_for(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t ldc,
                         float alpha, float beta, int threads) {
  const Key key{ta, tb, m, n, k, ldc, alpha, beta, threads};
  auto found = matmuls.find(key);
  if (found != matmuls.end()) return found->second;
  try {
    return matmuls.emplace(key, make_matmul(ta, tb, m, n, k, ldc, alpha, beta)).first->second;
  } catch (const dnnl::error& e) {
    CNN_FAIL("gemm_bf16: oneDNN cannot make a bf16 matmul for ", m, "x", n, "x", k, ": ", e.what(),
             " (status ", static_cast<int>(e.status), ")");
  }
}

}  // namespace

void onednn_bf16_matmul(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                        const bf16* a, const bf16* b, float beta, float* c, int64_t ldc,
                        int threads) {
  const Matmul& mm = matmul_for(ta, tb, m, n, k, ldc, alpha, beta, threads);
  if (scratchpad_buffer.size() < mm.scratchpad.get_size())
    scratchpad_buffer.resize(mm.scratchpad.get_size());
  thread_local dnnl::stream stream(engine());
  const dnnl::engine& cpu = engine();
  try {
    mm.primitive.execute(
        stream,
        {{DNNL_ARG_SRC, dnnl::memory(mm.src, cpu, const_cast<bf16*>(a))},
         {DNNL_ARG_WEIGHTS, dnnl::memory(mm.weights, cpu, const_cast<bf16*>(b))},
         {DNNL_ARG_DST, dnnl::memory(mm.dst, cpu, c)},
         {DNNL_ARG_SCRATCHPAD, dnnl::memory(mm.scratchpad, cpu, scratchpad_buffer.data())}});
  } catch (const dnnl::error& e) {
    CNN_FAIL("gemm_bf16: oneDNN's bf16 matmul failed for ", m, "x", n, "x", k, ": ", e.what());
  }
}

std::string onednn_bf16_implementation(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                       int threads) {
  return matmul_for(ta, tb, m, n, k, n, 1.0f, 0.0f, threads).implementation;
}

bool onednn_bf16_isa_is_amx() {
  return dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_amx;
}

bool onednn_bf16_isa_has_bf16() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

}  // namespace cnn
