// Prints the sgemm GFLOP/s this build reaches (median of repeated square products).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/gemm.h"
#include "core/random.h"

int main() {
  using clock = std::chrono::steady_clock;
  for (int64_t n : {256, 512, 1024, 2048}) {
    cnn::Generator gen(0);
    cnn::Tensor a = cnn::randn({n, n}, gen), b = cnn::randn({n, n}, gen), c = cnn::Tensor::empty({n, n});
    std::vector<double> seconds;
    for (int rep = 0; rep < 7; ++rep) {
      auto start = clock::now();
      cnn::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
      seconds.push_back(std::chrono::duration<double>(clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    double median = seconds[seconds.size() / 2];
    std::printf("sgemm %4ldx%4ldx%4ld  %8.1f GFLOP/s (median of 7, %d BLAS threads)\n", (long)n,
                (long)n, (long)n, 2.0 * n * n * n / median / 1e9, cnn::blas_threads());
  }
  return 0;
}
