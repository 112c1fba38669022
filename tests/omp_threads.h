// OpenMP's thread count for the scope of a test (restored after), for tests of parallel
// paths run under ctest's OMP_NUM_THREADS=1. Under ThreadSanitizer the count stays as it
// is: TSan does not see libgomp's barriers and reports races that are not there
// (scripts/sanitize.sh --tsan checks cnnlab's own threads).
#pragma once

#include <omp.h>

namespace cnn::testing {

class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : before_(omp_get_max_threads()) {
#if !defined(__SANITIZE_THREAD__)
    omp_set_num_threads(threads);
#endif
  }
  ~ScopedOmpThreads() { omp_set_num_threads(before_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int before_;
};

}  // namespace cnn::testing
