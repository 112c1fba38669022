// Data-parallel training over MPI (Open MPI, launched by mpirun or Slurm's srun): the process
// group, and what a data-parallel run does with it. Without a launcher nothing of MPI is
// initialized and every call here is the single-process no-op, so the same binary runs as
// before.
//
//   int main(int argc, char** argv) {
//     cnn::Distributed::init(&argc, &argv);
//     return cnn::Distributed::finish(run(argc, argv));  // aborts the job on a failure
//   }
//   // in the trainer, when Distributed::active():
//   DataParallel dp(model, config);       // same config and model everywhere, rank 0's weights
//   dp.wrap(hooks, n, global_n);          // after backward: the gradients averaged
//   dp.finish_step(result);               // the step's global loss and accuracy
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/config.h"
#include "apps/train_step.h"
#include "data/loader.h"
#include "layers/module.h"

namespace cnn {

// The process group (MPI_COMM_WORLD), process-wide.
class Distributed {
 public:
  // MPI_Init_thread when started by a launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK
  // in the environment); without one nothing happens (rank 0 of 1). Installs SyncBatchNorm's
  // collective (core/collective.h) when there is more than one process.
  static void init(int* argc, char*** argv);
  // The end of the program: MPI_Finalize after a success (exit code 0) or a stop by signal
  // (130, which every rank reaches at the same step); after a failure MPI_Abort, so the other
  // ranks never wait forever in a collective. Returns exit_code (without MPI).
  static int finish(int exit_code);

  static bool initialized();
  static bool active() { return world() > 1; }
  static int rank();
  static int world();
  static int local_ranks();  // processes on this node (MPI_Comm_split_type shared)

  static void allreduce_sum(double* data, int64_t count);
  static void allreduce_sum(float* data, int64_t count);
  static void broadcast(void* data, int64_t bytes);  // from rank 0
  static std::string broadcast(const std::string& text);
  static void barrier();
};

// OpenMP/BLAS threads of this process: train.threads when set, else $OMP_NUM_THREADS when
// set, else (under MPI) the node's cores divided by the ranks on it; 0 = leave as is.
int64_t threads_per_rank(int64_t configured);

// The data-parallel keys (top-level section `dist`).
struct DistSettings {
  int64_t bucket_kb = 256;  // gradient bytes per allreduce; these nets have 0.3-3 MB
};
const std::vector<KeySpec>& dist_keys();
DistSettings dist_settings(const Config& config);

// Sets the loader options for this rank's shard of each global batch (no-op on one process).
void shard_for_rank(LoaderOptions& options);

// One data-parallel run's model across the ranks.
class DataParallel {
 public:
  // Checks that every rank built the same config and model (an error naming the first
  // differing key or tensor), then copies rank 0's parameters and buffers everywhere.
  DataParallel(Module& model, const Config& config);

  // Adds to `hooks` the gradient average after backward (before the hook already there, so
  // layer statistics see the averaged gradients): each rank's gradient weighted by its share
  // of the global batch, summed over the ranks in buckets of dist.bucket_kb, the parameters
  // in reverse order (the order backward finishes them).
  // `images` is this rank's batch, `global_images` the global batch's.
  void wrap(TrainStepHooks& hooks, int64_t images, int64_t global_images);
  // After the step: the loss and accuracy of the global batch replace the rank's own; rank
  // 0's buffers (plain batch norm's running statistics) are copied everywhere; a stop signal
  // on any rank stops every rank at this step.
  void finish_step(TrainStepResult& result);

  // Seconds spent in the gradient allreduce so far, and the steps.
  double communication_seconds() const { return comm_seconds_; }
  int64_t steps() const { return steps_; }
  int64_t gradient_bytes() const;

 private:
  void average_gradients(double weight);
  void broadcast_buffers();

  Module& model_;
  std::vector<std::vector<Tensor>> buckets_;  // parameters, reverse order
  std::vector<float> pack_;
  double comm_seconds_ = 0;
  int64_t steps_ = 0;
};

}  // namespace cnn
