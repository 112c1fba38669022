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
//   stop = dp.finish_step(result);        // the step's global loss; do all ranks stop here
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/config.h"
#include "apps/dist_settings.h"
#include "apps/train_step.h"
#include "data/loader.h"
#include "layers/module.h"

namespace cnn {

class BucketReducer;

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
  // Whether MPI allows calls from several threads (the overlapped gradient allreduce).
  static bool thread_multiple();

  static void allreduce_sum(double* data, int64_t count);
  static void allreduce_sum(float* data, int64_t count);
  static void broadcast(void* data, int64_t bytes, int root = 0);
  static std::string broadcast(const std::string& text, int root = 0);
  static void barrier();
};

// OpenMP/BLAS threads of this process: train.threads when set, else $OMP_NUM_THREADS when
// set, else (under MPI) the node's cores divided by the ranks on it; 0 = leave as is.
int64_t threads_per_rank(int64_t configured);


// Sets the loader options for this rank's shard of each global batch (no-op on one process).
void shard_for_rank(LoaderOptions& options);

// One data-parallel run's model across the ranks.
class DataParallel {
 public:
  // Checks that every rank built the same config and model (an error naming the first
  // differing key or tensor), then copies rank 0's parameters and buffers everywhere.
  DataParallel(Module& model, const Config& config);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Adds to `hooks` the gradient average after backward (before the hook already there, so
  // layer statistics see the averaged gradients): each rank's gradient weighted by its share
  // of the global batch, summed over the ranks in buckets of dist.bucket_kb, the parameters
  // in reverse order (the order backward finishes them). With dist.overlap, a bucket whose
  // parameters all hold a gradient goes to the reducer during the backward
  // (core/autograd.h's progress hook); that needs each parameter used once per forward, as
  // in every cnnlab model (a parameter used twice would be sent after its first use).
  // `images` is this rank's batch, `global_images` the global batch's.
  void wrap(TrainStepHooks& hooks, int64_t images, int64_t global_images);
  // (wrap also sets after_loss: the loss and accuracy of the global batch replace the
  // rank's own, so a loss that is NaN on one rank stops every rank before backward.)
  // After the step: rank 0's buffers (plain batch norm's running statistics) are copied
  // everywhere; a stop signal or a divergence on any rank stops every rank at this step.
  // Returns whether the ranks agreed to stop here: the caller must act on this answer, not on
  // its own flag, since a signal arriving after the agreement would stop this rank alone
  // (the others would wait in the next step's collectives).
  bool finish_step(TrainStepResult& result);

  // Seconds spent in the gradient allreduce so far (on the communication thread when
  // overlapped), the part of it the step waited for after backward, and the steps.
  double communication_seconds() const { return comm_seconds_; }
  double exposed_communication_seconds() const { return exposed_seconds_; }
  int64_t steps() const { return steps_; }
  int64_t gradient_bytes() const;

 private:
  bool pack(size_t bucket);      // false when the bucket holds no gradient
  void unpack(size_t bucket);
  void start_ready_buckets();    // during backward: hand finished buckets to the reducer
  void finish_gradients();       // after backward: the rest, then wait for all
  void broadcast_buffers();

  Module& model_;
  std::vector<std::vector<Tensor>> buckets_;  // parameters, reverse order
  std::vector<std::vector<float>> packs_;     // each bucket's weighted gradients
  size_t next_bucket_ = 0;
  float weight_ = 1;
  double comm_seconds_ = 0, exposed_seconds_ = 0;
  int64_t steps_ = 0;
  std::unique_ptr<BucketReducer> reducer_;  // null: blocking allreduces after backward
};

}  // namespace cnn
