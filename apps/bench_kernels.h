// `cnnlab bench --kernels`: the GEMM shapes a model's training step and evaluation call
// sgemm with, each timed through every provider that can run here (min of interleaved
// rounds), beside the one the dispatch picks. docs/performance.md's kernel table.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "core/gemm.h"

namespace cnn {

struct KernelTiming {
  GemmShape shape;
  GemmProvider chosen;
  double gflops[3] = {0, 0, 0};  // by GemmProvider; 0 where not available
};

// The `limit` shapes with the most multiply-adds in total, timed over `rounds` rounds.
std::vector<KernelTiming> time_gemm_shapes(std::vector<GemmShape> shapes, int limit, int rounds);

void print_kernel_table(const std::vector<KernelTiming>& timings);
nlohmann::ordered_json kernel_table_json(const std::vector<KernelTiming>& timings);

}  // namespace cnn
