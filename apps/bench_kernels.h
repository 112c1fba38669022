// `cnnlab bench --kernels`: the GEMM shapes a model's training step and evaluation call
// sgemm with, each timed through every provider that can run here (min of interleaved
// rounds), beside the one the dispatch picks. docs/performance.md's kernel table; in bf16
// the bf16 door's kernels instead (docs/precision.md).
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

// In bf16 (core/gemm_bf16.h): each shape through the emulated path and each bf16 kernel
// that runs here (own packed, oneDNN's matmul), beside the path and kernel bf16_gemm takes.
struct Bf16KernelTiming {
  GemmShape shape;
  std::string chosen;          // "avx512_bf16/packed", "amx/onednn", "emulated"
  std::string implementation;  // oneDNN's for the shape ("" where it does not run)
  double gflops[3] = {0, 0, 0};  // emulated, packed, onednn; 0 where not available
};
std::vector<Bf16KernelTiming> time_bf16_gemm_shapes(std::vector<GemmShape> shapes, int limit,
                                                    int rounds);
void print_bf16_kernel_table(const std::vector<Bf16KernelTiming>& timings);
nlohmann::ordered_json bf16_kernel_table_json(const std::vector<Bf16KernelTiming>& timings);

}  // namespace cnn
