// The two ways of reducing gradient buckets during the backward (bucket_reducer.h).
#include "apps/bucket_reducer.h"

// The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace cnn {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<size_t>(length));
}

MPI_Comm duplicate_world() {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  return comm;
}

// Blocking allreduces of the submitted buckets, in order, on a thread of their own.
class ThreadReducer : public BucketReducer {
 public:
  explicit ThreadReducer(int rank) : rank_(rank), comm_(duplicate_world()) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ThreadReducer() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_.notify_all();
    thread_.join();
    MPI_Comm_free(&comm_);
  }
  void submit(std::vector<float>* pack) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(pack);
      ++submitted_;
    }
    work_.notify_one();
  }
  void wait_all() override {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return done_ >= submitted_ || !error_.empty(); });
    CNN_CHECK(error_.empty(), "MPI_Allreduce of the gradients failed on rank ", rank_, ": ",
              error_);
    done_ = submitted_ = 0;
  }
  double busy_seconds() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return busy_seconds_;
  }

 private:
  void loop() {
    for (;;) {
      std::vector<float>* pack = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        pack = queue_.front();
        queue_.pop_front();
      }
      const Clock::time_point start = Clock::now();
      const int code = MPI_Allreduce(MPI_IN_PLACE, pack->data(), static_cast<int>(pack->size()),
                                     MPI_FLOAT, MPI_SUM, comm_);
      const double seconds = seconds_since(start);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        busy_seconds_ += seconds;
        if (code != MPI_SUCCESS && error_.empty()) error_ = mpi_error_text(code);
        ++done_;
      }
      finished_.notify_all();
    }
  }

  const int rank_;
  MPI_Comm comm_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable work_, finished_;
  std::deque<std::vector<float>*> queue_;
  size_t submitted_ = 0, done_ = 0;  // this step's buckets
  bool stop_ = false;
  std::string error_;
  double busy_seconds_ = 0;
};

// MPI_Iallreduce per bucket on the main thread; MPI_Testall between layers lets Open MPI
// move them along (it progresses only inside MPI calls).
class NonblockingReducer : public BucketReducer {
 public:
  explicit NonblockingReducer(int rank) : rank_(rank), comm_(duplicate_world()) {}
  ~NonblockingReducer() override {
    if (!requests_.empty()) MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(),
                                        MPI_STATUSES_IGNORE);
    MPI_Comm_free(&comm_);
  }
  void submit(std::vector<float>* pack) override {
    const Clock::time_point start = Clock::now();
    requests_.emplace_back(MPI_REQUEST_NULL);
    check(MPI_Iallreduce(MPI_IN_PLACE, pack->data(), static_cast<int>(pack->size()), MPI_FLOAT,
                         MPI_SUM, comm_, &requests_.back()),
          "MPI_Iallreduce");
    busy_seconds_ += seconds_since(start);
  }
  void progress() override {
    if (requests_.empty()) return;
    const Clock::time_point start = Clock::now();
    int all_done = 0;
    check(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &all_done,
                      MPI_STATUSES_IGNORE),
          "MPI_Testall");
    if (all_done) requests_.clear();
    busy_seconds_ += seconds_since(start);
  }
  void wait_all() override {
    const Clock::time_point start = Clock::now();
    const int code = MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(),
                                 MPI_STATUSES_IGNORE);
    requests_.clear();
    busy_seconds_ += seconds_since(start);
    check(code, "MPI_Waitall");
  }
  double busy_seconds() override { return busy_seconds_; }

 private:
  void check(int code, const char* call) const {
    CNN_CHECK(code == MPI_SUCCESS, call, " of the gradients failed on rank ", rank_, ": ",
              mpi_error_text(code));
  }

  const int rank_;
  MPI_Comm comm_;
  std::vector<MPI_Request> requests_;  // this step's, in submission order
  double busy_seconds_ = 0;
};

}  // namespace

std::unique_ptr<BucketReducer> make_bucket_reducer(const std::string& mode, int rank) {
  if (mode == "iallreduce") return std::make_unique<NonblockingReducer>(rank);
  CNN_CHECK(mode == "thread", "unknown gradient reduction '", mode, "'");
  return std::make_unique<ThreadReducer>(rank);
}

}  // namespace cnn
