// `cnnlab bench`: times full training steps (forward, backward, optimizer) and
// evaluation (plain and with BN folded) on synthetic input of the config's shape, after
// warm-up; prints images/s, the median step time, peak resident memory and a per-layer
// table of forward/backward time and GFLOP/s, also as a share of the machine's sgemm rate
// measured in the same run, and the GEMM kernels chosen (core/gemm.h's describe_kernels).
#pragma once

#include <cstdint>

#include "apps/config.h"

namespace cnn {

struct BenchOptions {
  int64_t batch = 0;   // 0 = data.batch_size
  int64_t steps = 20;  // timed steps
  int64_t threads = 0;
  bool json = false;
  bool scaling = false;
  bool norm_overhead = false;  // also time the model against model.norm: none, in turns
  bool kernels = false;        // also time the model's GEMM shapes per provider
};

int run_bench(const Config& config, const BenchOptions& options);

}  // namespace cnn
