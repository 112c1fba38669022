// The one collective a layer needs (SyncBatchNorm's statistics): a sum over every process of
// a few doubles. Core and layers stay free of MPI: the distributed trainer (apps/distributed)
// installs the operation; without it (one process) nothing is installed and layers that
// would synchronize behave exactly as their single-process form.
//
//   if (collective_active()) allreduce_sum(sums.data(), sums.size());
#pragma once

#include <cstdint>
#include <functional>

namespace cnn {

// Sums `count` doubles in place over every process; all processes call it in the same order.
using AllreduceSumFn = std::function<void(double* data, int64_t count)>;

// Installs (or, with an empty function, removes) the process group's sum; `world_size` is
// the number of processes it spans.
void set_collective(AllreduceSumFn sum, int world_size);
// True when a sum over more than one process is installed.
bool collective_active();
int collective_world_size();
void allreduce_sum(double* data, int64_t count);

}  // namespace cnn
