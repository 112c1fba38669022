// Times a model's GEMM shapes through each provider (see bench_kernels.h).
#include "apps/bench_kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/gemm_bf16.h"

namespace cnn {

namespace {

constexpr GemmProvider kProviders[] = {GemmProvider::packed, GemmProvider::onednn,
                                       GemmProvider::openblas};

double multiply_adds(const GemmShape& s) { return static_cast<double>(s.m) * s.n * s.k; }

// Operands for one shape, with the leading dimensions the callers use (the rows as wide as
// op() makes them).
struct ShapeOperands {
  std::vector<float> a, b, c;
  int64_t lda, ldb;
  explicit ShapeOperands(const GemmShape& s)
      : a(s.m * s.k, 0.5f),
        b(s.k * s.n, 0.25f),
        c(s.m * s.n, 0.0f),
        lda(s.transpose_a ? s.m : s.k),
        ldb(s.transpose_b ? s.k : s.n) {}
};

// Seconds per call: enough calls for about 2 ms.
double seconds_per_call(GemmProvider provider, const GemmShape& s, ShapeOperands& o) {
  using Clock = std::chrono::steady_clock;
  const int calls =
      static_cast<int>(std::clamp(2e6 / std::max(1.0, multiply_adds(s)), 1.0, 2000.0));
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < calls; ++i)
    sgemm_with(provider, s.transpose_a, s.transpose_b, s.m, s.n, s.k, 1.0f, o.a.data(), o.lda,
               o.b.data(), o.ldb, 0.0f, o.c.data(), s.n);
  return std::chrono::duration<double>(Clock::now() - start).count() / calls;
}

std::string shape_text(const GemmShape& s) {
  return std::string(s.transpose_a ? "T" : "N") + (s.transpose_b ? "T" : "N") + " " +
         std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

// The `limit` shapes with the most multiply-adds in total.
std::vector<GemmShape> heaviest(std::vector<GemmShape> shapes, int limit) {
  std::sort(shapes.begin(), shapes.end(), [](const GemmShape& x, const GemmShape& y) {
    return multiply_adds(x) * x.calls > multiply_adds(y) * y.calls;
  });
  if (static_cast<int>(shapes.size()) > limit) shapes.resize(limit);
  return shapes;
}

// bf16: column 0 the emulated path, 1 and 2 the kernels (Bf16Kernel's order).
bool bf16_column_runs(int column) {
  return column == 0 || bf16_kernel_available(static_cast<Bf16Kernel>(column - 1));
}

double bf16_seconds_per_call(int column, const GemmShape& s, ShapeOperands& o) {
  using Clock = std::chrono::steady_clock;
  const int calls =
      static_cast<int>(std::clamp(2e6 / std::max(1.0, multiply_adds(s)), 1.0, 2000.0));
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    if (column == 0) {
      bf16_gemm_with(Bf16Path::emulated, s.transpose_a, s.transpose_b, s.m, s.n, s.k, 1.0f,
                     o.a.data(), o.lda, o.b.data(), o.ldb, 0.0f, o.c.data(), s.n);
    } else {
      bf16_gemm_kernel(static_cast<Bf16Kernel>(column - 1), s.transpose_a, s.transpose_b, s.m,
                       s.n, s.k, 1.0f, o.a.data(), o.lda, o.b.data(), o.ldb, 0.0f, o.c.data(),
                       s.n);
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count() / calls;
}

}  // namespace

std::vector<Bf16KernelTiming> time_bf16_gemm_shapes(std::vector<GemmShape> shapes, int limit,
                                                    int rounds) {
  shapes = heaviest(std::move(shapes), limit);
  std::vector<Bf16KernelTiming> timings;
  std::vector<ShapeOperands> operands;
  const Bf16Path path = bf16_path();
  for (const GemmShape& s : shapes) {
    Bf16KernelTiming t{s, bf16_path_name(path), bf16_onednn_implementation(s.transpose_a, s.transpose_b, s.m, s.n, s.k), {}};
    if (path != Bf16Path::emulated)
      t.chosen += std::string("/") + bf16_kernel_name(bf16_kernel_for(
                                         path, s.transpose_a, s.transpose_b, s.m, s.n, s.k));
    timings.push_back(t);
    operands.emplace_back(s);
  }
  std::vector<double> best(timings.size() * 3, 1e30);
  for (int round = 0; round < rounds; ++round)  // interleaved, as time_gemm_shapes
    for (size_t i = 0; i < timings.size(); ++i)
      for (int column = 0; column < 3; ++column)
        if (bf16_column_runs(column))
          best[i * 3 + column] = std::min(
              best[i * 3 + column], bf16_seconds_per_call(column, timings[i].shape, operands[i]));
  for (size_t i = 0; i < timings.size(); ++i)
    for (int column = 0; column < 3; ++column)
      if (bf16_column_runs(column))
        timings[i].gflops[column] =
            2 * multiply_adds(timings[i].shape) / best[i * 3 + column] / 1e9;
  return timings;
}

void print_bf16_kernel_table(const std::vector<Bf16KernelTiming>& timings) {
  std::printf(
      "\n  bf16 GEMM shapes of one training step and evaluation (GFLOP/s, min of rounds):\n");
  std::printf("  %-22s %7s %9s %9s %9s  %-20s %s\n", "shape (op, m x n x k)", "calls", "emulated",
              "packed", "onednn", "chosen", "oneDNN's kernel");
  for (const Bf16KernelTiming& t : timings)
    std::printf("  %-22s %7ld %9.1f %9.1f %9.1f  %-20s %s\n", shape_text(t.shape).c_str(),
                (long)t.shape.calls, t.gflops[0], t.gflops[1], t.gflops[2], t.chosen.c_str(),
                t.implementation.c_str());
}

nlohmann::ordered_json bf16_kernel_table_json(const std::vector<Bf16KernelTiming>& timings) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const Bf16KernelTiming& t : timings) {
    nlohmann::ordered_json row;
    row["shape"] = shape_text(t.shape);
    row["calls"] = t.shape.calls;
    row["emulated_gflops"] = t.gflops[0];
    row["packed_gflops"] = t.gflops[1];
    row["onednn_gflops"] = t.gflops[2];
    row["chosen"] = t.chosen;
    row["onednn_implementation"] = t.implementation;
    rows.push_back(row);
  }
  return rows;
}

std::vector<KernelTiming> time_gemm_shapes(std::vector<GemmShape> shapes, int limit, int rounds) {
  shapes = heaviest(std::move(shapes), limit);
  std::vector<KernelTiming> timings;
  std::vector<ShapeOperands> operands;
  for (const GemmShape& s : shapes) {
    timings.push_back({s, gemm_provider_for(s.transpose_a, s.transpose_b, s.m, s.n, s.k), {}});
    operands.emplace_back(s);
  }
  std::vector<double> best(timings.size() * 3, 1e30);
  for (int round = 0; round < rounds; ++round)  // interleaved: drift hits every provider alike
    for (size_t i = 0; i < timings.size(); ++i)
      for (GemmProvider p : kProviders)
        if (gemm_provider_available(p)) {
          double& b = best[i * 3 + static_cast<int>(p)];
          b = std::min(b, seconds_per_call(p, timings[i].shape, operands[i]));
        }
  for (size_t i = 0; i < timings.size(); ++i)
    for (GemmProvider p : kProviders)
      if (gemm_provider_available(p))
        timings[i].gflops[static_cast<int>(p)] =
            2 * multiply_adds(timings[i].shape) / best[i * 3 + static_cast<int>(p)] / 1e9;
  return timings;
}

void print_kernel_table(const std::vector<KernelTiming>& timings) {
  std::printf("\n  GEMM shapes of one training step and evaluation (GFLOP/s, min of rounds):\n");
  std::printf("  %-22s %7s %9s %9s %9s  %s\n", "shape (op, m x n x k)", "calls", "packed", "onednn",
              "openblas", "chosen");
  for (const KernelTiming& t : timings)
    std::printf("  %-22s %7ld %9.1f %9.1f %9.1f  %s\n", shape_text(t.shape).c_str(),
                (long)t.shape.calls, t.gflops[0], t.gflops[1], t.gflops[2],
                gemm_provider_name(t.chosen));
}

nlohmann::ordered_json kernel_table_json(const std::vector<KernelTiming>& timings) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const KernelTiming& t : timings) {
    nlohmann::ordered_json row;
    row["shape"] = shape_text(t.shape);
    row["calls"] = t.shape.calls;
    for (GemmProvider p : kProviders)
      row[std::string(gemm_provider_name(p)) + "_gflops"] = t.gflops[static_cast<int>(p)];
    row["chosen"] = gemm_provider_name(t.chosen);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace cnn
