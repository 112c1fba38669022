// sgemm's dispatch (see gemm.h): which provider runs a product, decided from the shape and
// the CPU alone (no timing at run time, so the same shape on the same thread count gives the
// same bits every run). The rule and the measurements behind it: docs/performance.md,
// "Kernel dispatch".
#include "core/gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/gemm_bf16.h"
#include "core/gemm_providers.h"

namespace cnn {

namespace {

std::atomic<int> isa_limit{-1};       // -1: none (the CPU's best)
// The dispatch rule's three facts of the CPU and the limit (openblas_at_cpu_level, packed
// and oneDNN available) as bits 0-2, once per limit: sgemm runs 50,000 times a step.
// -1: not computed yet.
std::atomic<int> rule_facts{-1};
std::atomic<int> threads_setting{0};  // 0: not set yet (OpenBLAS's own count)

// The packed kernels split C among threads above this many multiply-adds (below, the
// threads' start-up costs more than they save).
constexpr int64_t kPackedParallelMin = int64_t{1} << 20;

const PackedBlocking& packed_blocking() {
  return gemm_isa() == Isa::avx512 ? kPackedAvx512 : kPackedAvx2;
}

// This thread's pack buffers, grown to the blocking's size once.
struct PackBuffers {
  std::vector<float> a, b;
  void fit(const PackedBlocking& p) {
    if (static_cast<int64_t>(a.size()) < packed_a_floats(p)) a.resize(packed_a_floats(p));
    if (static_cast<int64_t>(b.size()) < packed_b_floats(p)) b.resize(packed_b_floats(p));
  }
};
thread_local PackBuffers pack_buffers;

// A B^T from this K on goes to the dot path (below, the lanes' final sums cost too much).
constexpr int64_t kDotMinK = 128;

// The dispatch's bound for small products (packed_wins): elements of C.
constexpr int64_t kSmallMaxC = 4096;

void packed_range(const GemmArgs& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const PackedBlocking& p = packed_blocking();
  pack_buffers.fit(p);
  if (gemm_isa() == Isa::avx512) {
    packed_sgemm_avx512(g, r0, r1, c0, c1, pack_buffers.a.data(), pack_buffers.b.data());
  } else {
    packed_sgemm_avx2(g, r0, r1, c0, c1, pack_buffers.a.data(), pack_buffers.b.data());
  }
}

// Threads a provider may start for this call: one inside a parallel region.
int call_threads() {
  return omp_in_parallel() ? 1 : std::max(1, std::min(blas_threads(), omp_get_max_threads()));
}

int packed_threads(const GemmArgs& g, int64_t blocks) {
  if (g.m * g.n * g.k < kPackedParallelMin) return 1;
  return static_cast<int>(std::min<int64_t>(call_threads(), blocks));
}

thread_local std::vector<float> direct_b_buffer;

// The direct path (small B): B copied once if it must be, then the rows split among threads.
void direct_sgemm(const GemmArgs& g) {
  const bool wide = gemm_isa() == Isa::avx512;
  const int64_t floats = wide ? direct_avx512_b_floats(g) : direct_avx2_b_floats(g);
  if (static_cast<int64_t>(direct_b_buffer.size()) < floats) direct_b_buffer.resize(floats);
  float* b = direct_b_buffer.data();
  auto rows = [&](int64_t r0, int64_t r1, bool pack) {
    if (wide) {
      direct_sgemm_avx512(g, r0, r1, b, pack);
    } else {
      direct_sgemm_avx2(g, r0, r1, b, pack);
    }
  };
  const int64_t blocks = (g.m + 7) / 8;  // whole 8-row tiles per thread
  const int threads = packed_threads(g, blocks);
  if (threads <= 1) return rows(0, g.m, true);
  rows(0, 0, true);  // packs B only
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    rows(std::min(g.m, blocks * t / count * 8), std::min(g.m, blocks * (t + 1) / count * 8), false);
  }
}

// The packed kernels, C split among the threads in whole MR rows or NR columns (whichever
// dimension has more blocks); each element is computed the same way in any split.
// The dot path (A B^T with a long K), C split among threads in rows of 4 or columns of 4.
void dot_sgemm(const GemmArgs& g) {
  const bool wide = gemm_isa() == Isa::avx512;
  auto block = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    if (wide) {
      dot_sgemm_avx512(g, r0, r1, c0, c1);
    } else {
      dot_sgemm_avx2(g, r0, r1, c0, c1);
    }
  };
  const int64_t row_blocks = (g.m + 3) / 4, col_blocks = (g.n + 3) / 4;
  const int threads = packed_threads(g, std::max(row_blocks, col_blocks));
  if (threads <= 1) return block(0, g.m, 0, g.n);
  const bool by_rows = row_blocks >= col_blocks;
  const int64_t blocks = by_rows ? row_blocks : col_blocks;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t first = blocks * t / count * 4, last = blocks * (t + 1) / count * 4;
    if (by_rows) {
      block(std::min(first, g.m), std::min(last, g.m), 0, g.n);
    } else {
      block(0, g.m, std::min(first, g.n), std::min(last, g.n));
    }
  }
}

void packed_sgemm(const GemmArgs& g) {
  if (!g.ta && g.tb && g.k >= kDotMinK) return dot_sgemm(g);
  if (g.k * g.n <= kDirectMaxB) return direct_sgemm(g);
  const PackedBlocking& p = packed_blocking();
  const int64_t row_blocks = (g.m + p.mr - 1) / p.mr, col_blocks = (g.n + p.nr - 1) / p.nr;
  const int threads = packed_threads(g, std::max(row_blocks, col_blocks));
  if (threads <= 1) {
    packed_range(g, 0, g.m, 0, g.n);
    return;
  }
  const bool by_rows = row_blocks >= col_blocks;
  const int64_t blocks = by_rows ? row_blocks : col_blocks, unit = by_rows ? p.mr : p.nr;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t first = blocks * t / count * unit, last = blocks * (t + 1) / count * unit;
    if (by_rows) {
      packed_range(g, first, std::min(last, g.m), 0, g.n);
    } else {
      packed_range(g, 0, g.m, first, std::min(last, g.n));
    }
  }
}

// oneDNN takes omp_get_max_threads() threads outside a parallel region: set to ours for
// the call when they differ (this thread's setting only, restored after).
void onednn_sgemm_threads(const GemmArgs& g) {
  if (omp_in_parallel() || omp_get_max_threads() == call_threads()) {
    onednn_sgemm(g);
    return;
  }
  const int before = omp_get_max_threads();
  omp_set_num_threads(call_threads());
  onednn_sgemm(g);
  omp_set_num_threads(before);
}

// C = beta * C, the whole product when k == 0 (beta == 0 writes zeros, never reads C).
void scale_only(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* row = g.c + i * g.ldc;
    if (g.beta == 0.0f) {
      std::fill_n(row, g.n, 0.0f);
    } else if (g.beta != 1.0f) {
      for (int64_t j = 0; j < g.n; ++j) row[j] *= g.beta;
    }
  }
}

void run_provider(GemmProvider provider, const GemmArgs& g) {
  switch (provider) {
    case GemmProvider::packed:
      return packed_sgemm(g);
    case GemmProvider::onednn:
      return onednn_sgemm_threads(g);
    case GemmProvider::openblas:
      return openblas_sgemm(g);
  }
}

// The shape recorder: off (one relaxed load per call) unless bench turns it on.
std::atomic<bool> recording{false};
std::mutex recorded_mutex;
std::map<std::tuple<bool, bool, int64_t, int64_t, int64_t>, int64_t> recorded;

void record(const GemmArgs& g) {
  std::lock_guard<std::mutex> lock(recorded_mutex);
  ++recorded[{g.ta, g.tb, g.m, g.n, g.k}];
}

// Where the own kernels go (docs/performance.md, "Kernel dispatch"): small products, C at
// most 4096 elements with B at most 2^16 floats (Winograd's points, the classifier, small
// im2col maps), where they beat oneDNN; and every A B^T with a long K (the im2col weight
// gradients, sums over many pixels), where the dot path's lane-wise partial sums keep the
// error of a plain k-term chain away (oneDNN's chain failed the conv2d tests' tolerance;
// the dot path is up to 2x slower than oneDNN on the larger ones, a few % of a step).
bool packed_wins(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k) {
  if (!transpose_a && transpose_b && k >= kDotMinK) return true;
  return k * n <= kDirectMaxB && m * n <= kSmallMaxC;
}

// OpenBLAS with a core it knows at the CPU's own level (and no lowered level): measured
// fastest on most of the models' shapes, so sgemm takes it then. Never a core below the CPU.
bool openblas_at_cpu_level() {
  const BlasCore& core = blas_core();
  return core.known && core.isa >= cpu_features().best && gemm_isa() == cpu_features().best &&
         cpu_features().best >= Isa::avx2;
}

// The one class where the own kernels beat even such an OpenBLAS: small A B^T with a short
// K (Winograd's input gradients, dM U^T).
bool small_winograd_gradient(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k) {
  return !transpose_a && transpose_b && k < kDotMinK && k * n <= kDirectMaxB && m * n <= kSmallMaxC;
}

}  // namespace

void record_gemm_shape(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k) {
  if (!recording.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(recorded_mutex);
  ++recorded[{transpose_a, transpose_b, m, n, k}];
}

void start_recording_gemm_shapes() {
  std::lock_guard<std::mutex> lock(recorded_mutex);
  recorded.clear();
  recording.store(true);
}

std::vector<GemmShape> stop_recording_gemm_shapes() {
  recording.store(false);
  std::lock_guard<std::mutex> lock(recorded_mutex);
  std::vector<GemmShape> shapes;
  for (const auto& [key, calls] : recorded)
    shapes.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key),
                      std::get<4>(key), calls});
  recorded.clear();
  return shapes;
}

const char* gemm_provider_name(GemmProvider provider) {
  switch (provider) {
    case GemmProvider::packed:
      return "packed";
    case GemmProvider::onednn:
      return "onednn";
    case GemmProvider::openblas:
      return "openblas";
  }
  return "?";
}

Isa gemm_isa() {
  const Isa best = cpu_features().best;
  const int limit = isa_limit.load();
  return limit < 0 ? best : std::min(best, static_cast<Isa>(limit));
}

void set_gemm_isa_limit(Isa limit) {
  isa_limit.store(static_cast<int>(limit));
  rule_facts.store(-1);
}

bool gemm_provider_available(GemmProvider provider) {
  switch (provider) {
    case GemmProvider::packed:
      return gemm_isa() >= Isa::avx2;
    case GemmProvider::onednn:
      return gemm_isa() == cpu_features().best;
    case GemmProvider::openblas:
      return true;
  }
  return false;
}

GemmProvider gemm_provider_for(bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                               int64_t k) {
  int facts = rule_facts.load(std::memory_order_relaxed);
  if (facts < 0) {
    facts = (openblas_at_cpu_level() ? 1 : 0) |
            (gemm_provider_available(GemmProvider::packed) ? 2 : 0) |
            (gemm_provider_available(GemmProvider::onednn) ? 4 : 0);
    rule_facts.store(facts);
  }
  const bool packed = facts & 2, onednn = facts & 4;
  if (facts & 1)
    return packed && small_winograd_gradient(transpose_a, transpose_b, m, n, k)
               ? GemmProvider::packed
               : GemmProvider::openblas;
  if (packed && (!onednn || packed_wins(transpose_a, transpose_b, m, n, k)))
    return GemmProvider::packed;
  if (onednn) return GemmProvider::onednn;
  return GemmProvider::openblas;  // a CPU without AVX2: nothing else runs (at any core)
}

void sgemm_with(GemmProvider provider, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
                int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                float beta, float* c, int64_t ldc) {
  CNN_CHECK(gemm_provider_available(provider), "gemm: the ", gemm_provider_name(provider),
            " provider cannot run at level ", isa_name(gemm_isa()), " on this CPU");
  if (m <= 0 || n <= 0) return;
  const GemmArgs g{transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  if (k <= 0) return scale_only(g);
  run_provider(provider, g);
}

void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const GemmArgs g{transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  if (recording.load(std::memory_order_relaxed)) record(g);
  if (k <= 0) return scale_only(g);
  run_provider(gemm_provider_for(transpose_a, transpose_b, m, n, k), g);
}

void set_blas_threads(int threads) {
  if (threads <= 0) return;
  threads_setting.store(threads);
  openblas_set_threads(threads);
}

int blas_threads() {
  const int setting = threads_setting.load();
  return setting > 0 ? setting : openblas_threads();
}

std::string describe_kernels() {
  const BlasCore& core = blas_core();
  std::string line = "kernels: " + describe_cpu() + "; gemm at " + isa_name(gemm_isa()) + ": ";
  const GemmProvider small = gemm_provider_for(false, false, 64, 64, 64);
  const GemmProvider small_nt = gemm_provider_for(false, true, 64, 64, 64);
  const GemmProvider dot = gemm_provider_for(false, true, 1024, 1024, 1024);
  const GemmProvider large = gemm_provider_for(false, false, 1024, 1024, 1024);
  line += std::string(
              "small products (C <= 4096 and B <= 2^16 floats: Winograd points, linear, "
              "small maps) ") +
          gemm_provider_name(small) + ", small A B^T with k < 128 " + gemm_provider_name(small_nt) +
          ", A B^T with k >= 128 (weight gradients) " + gemm_provider_name(dot) + ", larger " +
          gemm_provider_name(large);
  if (gemm_provider_available(GemmProvider::onednn))
    line += std::string("; oneDNN JIT ") + onednn_isa_name();
  line += "; OpenBLAS core " + core.name + " (" + isa_name(core.isa) +
          (core.known ? "" : ", a name cnnlab does not know") +
          (core.isa >= gemm_isa() ? "" : ", below the CPU") +
          (openblas_at_cpu_level() ? ": used" : ": not used, reference only") + ")";
  return line + "; " + describe_bf16_kernels();
}

std::string kernel_warning() {
  const BlasCore& core = blas_core();
  if (!core.below_cpu || cpu_features().best < Isa::avx2) return "";
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return "OpenBLAS runs its " + core.name + " kernels (" + isa_name(core.isa) +
         (core.known ? "" : ", a core name cnnlab does not know") + ") on a CPU with " +
         isa_name(cpu_features().best) +
         (forced ? " (OPENBLAS_CORETYPE=" + std::string(forced) + " forces them)"
                 : " (this OpenBLAS build does not know the CPU)") +
         ": cnnlab routes around it, every product runs on its own " + isa_name(gemm_isa()) +
         " kernels or oneDNN";
}

}  // namespace cnn
