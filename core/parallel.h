// The smallest loops worth running on the OpenMP team, one constant per family of loops.
// Waking the team and splitting a range costs a few microseconds, as much as one thread
// spends on tens of thousands of simple float operations, so a loop with less work runs on
// the calling thread: `#pragma omp parallel for if (work > kParallelMin...)`. The more a
// loop does per unit counted, the lower its threshold. Change a value only with a benchmark
// (`cnnlab bench`, bench_conv): every loop of the family moves with it.
#pragma once

#include <cstdint>

namespace cnn {

// Element-wise maps, one or two operations per element: core's element-wise ops,
// activations, dropout, the fused-ReLU gradient mask, the loss's [N, K] rows. Elements.
constexpr int64_t kParallelMinElements = 65536;

// Loops over whole planes that copy or sum them: im2col/col2im, global average pooling,
// the convolution's bias gradient. Elements touched.
constexpr int64_t kParallelMinPlaneElements = 32768;

// The optimizers' per-parameter updates (SGD, Adam: several operations per element) and
// gradient clipping. Elements of the parameter.
constexpr int64_t kParallelMinUpdateElements = 32768;

// Normalization kernels (batch, group, layer, instance): statistics and the normalized
// output per element. Elements.
constexpr int64_t kParallelMinNormElements = 16384;

// Max and average pooling: one kernel window per output element. Output elements.
constexpr int64_t kParallelMinPoolOutputs = 16384;

// Winograd's weight transforms: (input channel, output channel) pairs, each a 3x3 -> 6x6
// transform of some hundred operations. Pairs (this one compares with >=).
constexpr int64_t kParallelMinWinogradFilters = 4096;

}  // namespace cnn
