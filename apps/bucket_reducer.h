// How a data-parallel step's gradient buckets are summed over the ranks while the backward
// is still running. Open MPI has no asynchronous progress of its own, so something has to
// move a reduction along while the main thread computes: either a communication thread
// doing blocking MPI_Allreduce calls (`thread`), or MPI_Iallreduce started on the main
// thread and moved along by MPI_Testall between the backward's layers (`iallreduce`).
// Both sum on a duplicate of MPI_COMM_WORLD, so that SyncBatchNorm's allreduces on the main
// thread never mix with them. scripts/bench_mpi.sh measures the two (docs/scaling.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace cnn {

class BucketReducer {
 public:
  virtual ~BucketReducer() = default;
  // Starts summing `pack` in place over the ranks (every rank submits the same sequence).
  virtual void submit(std::vector<float>* pack) = 0;
  // Called between the backward's layers: lets nonblocking reductions advance.
  virtual void progress() {}
  // Returns once every bucket submitted this step is summed; throws on an MPI failure.
  virtual void wait_all() = 0;
  // Seconds spent reducing so far: on the communication thread (`thread`), or inside the
  // MPI calls that start, test and wait for the reductions (`iallreduce`).
  virtual double busy_seconds() = 0;
};

// mode: "thread" or "iallreduce"; `rank` names this process in errors.
std::unique_ptr<BucketReducer> make_bucket_reducer(const std::string& mode, int rank);

}  // namespace cnn
