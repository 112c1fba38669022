// The data-parallel settings (top-level config section `dist`), read without MPI: every
// config load checks them, so a bad key is an error on one process too (apps/distributed.h
// uses them under mpirun).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/config.h"
#include "core/config_reader.h"

namespace cnn {

// The data-parallel keys (top-level section `dist`).
struct DistSettings {
  int64_t bucket_kb = 256;  // gradient bytes per allreduce; these nets have 0.3-3 MB
  // How each bucket is allreduced as soon as backward has finished its gradients (Open MPI
  // has no asynchronous progress of its own): "thread", "iallreduce" (apps/bucket_reducer.h),
  // "auto" (thread where the node has a core to spare per rank, else iallreduce) or "none"
  // (all after backward).
  std::string overlap = "auto";
};
const std::vector<KeySpec>& dist_keys();
DistSettings dist_settings(const Config& config);

}  // namespace cnn
