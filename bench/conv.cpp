// Times the 3x3 convolutions of a small VGG (vgg6) at batch 128: forward, and backward
// (input gradient + weight gradient), as GFLOP/s per conv and in total (medians of
// repeated runs), next to the sgemm GFLOP/s of a 1024^3 product for comparison.
//   bench_conv [reps=7] [batch=128]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/autograd.h"
#include "core/gemm.h"
#include "core/random.h"
#include "layers/conv2d.h"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Layer {
  int64_t in, out, size;
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 7;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
  const std::vector<Layer> layers{{3, 32, 32},  {32, 32, 32},  {32, 64, 16},
                                  {64, 64, 16}, {64, 128, 8}, {128, 128, 8}};
  cnn::Generator gen(0);

  std::printf("vgg6 3x3 convolutions (padding 1, bias), batch %ld, median of %d runs, %d BLAS "
              "threads\n",
              static_cast<long>(batch), reps, cnn::blas_threads());
  std::printf("%-22s %10s %10s %10s %10s\n", "conv", "fwd ms", "fwd GF/s", "bwd ms", "bwd GF/s");
  double total_forward = 0.0, total_backward = 0.0, total_flops = 0.0;
  for (const Layer& l : layers) {
    cnn::Conv2dOptions o;
    o.in_channels = l.in;
    o.out_channels = l.out;
    o.kernel_size = {3, 3};
    o.padding = {1, 1};
    cnn::Conv2d conv(o, gen);
    cnn::Tensor x = cnn::randn({batch, l.in, l.size, l.size}, gen);
    cnn::Tensor gy = cnn::randn({batch, l.out, l.size, l.size}, gen);
    // One direction: 2 * N * O * OH * OW * C * 9 flops; backward is two such products.
    const double flops = 2.0 * batch * l.out * l.size * l.size * l.in * 9;

    std::vector<double> forward, backward;
    for (int rep = 0; rep <= reps; ++rep) {  // rep 0 warms up (scratch buffers, page faults)
      cnn::Tensor input = x.detach();
      input.set_requires_grad(true);  // so the backward computes the input gradient too
      auto start = clock_type::now();
      cnn::Tensor y = conv.forward(input);
      double t_forward = seconds_since(start);
      start = clock_type::now();
      y.backward(gy);
      double t_backward = seconds_since(start);
      conv.weight().zero_grad();
      conv.bias().zero_grad();
      if (rep > 0) {
        forward.push_back(t_forward);
        backward.push_back(t_backward);
      }
    }
    const double f = median(forward), b = median(backward);
    total_forward += f;
    total_backward += b;
    total_flops += flops;
    char name[64];
    std::snprintf(name, sizeof name, "%ld->%ld @ %ldx%ld", static_cast<long>(l.in),
                  static_cast<long>(l.out), static_cast<long>(l.size), static_cast<long>(l.size));
    std::printf("%-22s %10.2f %10.1f %10.2f %10.1f\n", name, f * 1e3, flops / f / 1e9, b * 1e3,
                2.0 * flops / b / 1e9);
  }
  std::printf("%-22s %10.2f %10.1f %10.2f %10.1f\n", "total", total_forward * 1e3,
              total_flops / total_forward / 1e9, total_backward * 1e3,
              2.0 * total_flops / total_backward / 1e9);

  const int64_t n = 1024;
  cnn::Tensor a = cnn::randn({n, n}, gen), b = cnn::randn({n, n}, gen), c = cnn::Tensor::empty({n, n});
  std::vector<double> times;
  for (int rep = 0; rep <= reps; ++rep) {
    auto start = clock_type::now();
    cnn::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (rep > 0) times.push_back(seconds_since(start));
  }
  std::printf("sgemm 1024x1024x1024 %10.1f GFLOP/s (for comparison)\n",
              2.0 * n * n * n / median(times) / 1e9);
  return 0;
}
