// Times oneDNN's convolution primitives (core/conv_onednn.h) against cnnlab's own conv paths
// on vgg6's and ResNet-20's conv shapes (no bias: BN follows every conv): forward, and
// backward (input gradient + weight gradient), in ms, min of interleaved rounds. Columns:
// fp32 by cnnlab's auto rule (Winograd / direct / im2col), fp32 im2col, bf16 im2col (the
// bf16 GEMM door), oneDNN fp32 (format any), oneDNN bf16 in formats any, nchw and nhwc.
// Every oneDNN figure includes the reorders from and to cnnlab's fp32 NCHW tensors.
//   bench_conv_onednn [rounds=3] [threads=2] [batch=128] [model=all|vgg6|resnet20]
#include "core/conv_onednn.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/conv_direct.h"
#include "core/conv_im2col.h"
#include "core/gemm.h"
#include "core/precision.h"
#include "core/random.h"
#include "core/tensor.h"
#include "core/winograd.h"

namespace {

using clock_type = std::chrono::steady_clock;
using cnn::OnednnConvLayout;

struct Layer {
  const char* model;
  int64_t in, out, size, kernel, stride, count;  // count: how many such layers the model has
};

const std::vector<Layer> kLayers = {
    {"vgg6", 3, 32, 32, 3, 1, 1},      {"vgg6", 32, 32, 32, 3, 1, 1},
    {"vgg6", 32, 64, 16, 3, 1, 1},     {"vgg6", 64, 64, 16, 3, 1, 1},
    {"vgg6", 64, 128, 8, 3, 1, 1},     {"vgg6", 128, 128, 8, 3, 1, 1},
    {"resnet20", 3, 16, 32, 3, 1, 1},  {"resnet20", 16, 16, 32, 3, 1, 6},
    {"resnet20", 16, 32, 32, 3, 2, 1}, {"resnet20", 16, 32, 32, 1, 2, 1},
    {"resnet20", 32, 32, 16, 3, 1, 5}, {"resnet20", 32, 64, 16, 3, 2, 1},
    {"resnet20", 32, 64, 16, 1, 2, 1}, {"resnet20", 64, 64, 8, 3, 1, 5}};

enum Variant { kAuto, kIm2colF32, kIm2colBf16, kOnednnF32, kOnednnAny, kOnednnNchw, kOnednnNhwc };
const char* kNames[] = {"fp32 auto", "fp32 im2col", "bf16 im2col", "dnnl fp32",
                        "dnnl bf16", "bf16 nchw",   "bf16 nhwc"};
constexpr int kVariants = 7;

struct Operands {
  cnn::ConvGeometry g;
  int64_t N, O;
  cnn::Tensor x, w, gy, y, dx, dw;
};

cnn::OnednnConvShape onednn_shape(const Operands& o, Variant v) {
  cnn::OnednnConvShape s;
  s.geometry = o.g;
  s.batch = o.N;
  s.out_channels = o.O;
  s.bf16 = v != kOnednnF32;
  s.layout = v == kOnednnNchw   ? OnednnConvLayout::nchw
             : v == kOnednnNhwc ? OnednnConvLayout::nhwc
                                : OnednnConvLayout::any;
  return s;
}

std::string auto_name(const Operands& o) {
  if (cnn::winograd_applies(o.g, 1)) return "winograd";
  if (cnn::direct_conv_applies(o.g, 1, o.O)) return "direct";
  return "im2col";
}

// One forward and one backward of a variant: {forward seconds, backward seconds}.
std::pair<double, double> time_once(Operands& o, Variant v) {
  const float* x = o.x.data();
  const float* w = o.w.data();
  const float* gy = o.gy.data();
  float *y = o.y.data(), *dx = o.dx.data(), *dw = o.dw.data();
  std::function<void()> forward, backward;
  std::vector<float> u;
  const std::string path = auto_name(o);
  if (v == kAuto && path == "winograd") {
    forward = [&] {
      u.resize(cnn::winograd_weights_size(o.g.channels, o.O));
      cnn::winograd_transform_weights(o.g.channels, o.O, w, u.data());
      cnn::winograd_conv3x3_forward(o.g, o.N, o.O, x, u.data(), nullptr, {}, y);
    };
    backward = [&] { cnn::winograd_conv3x3_backward(o.g, o.N, o.O, x, u.data(), gy, dx, dw); };
  } else if (v <= kIm2colBf16) {
    const bool direct = v == kAuto && path == "direct";
    forward = [&, direct] {
      if (direct) return cnn::direct_conv_forward(o.g, o.N, o.O, x, w, nullptr, false, y);
      cnn::im2col_conv_forward(o.g, o.N, o.O, 1, x, w, nullptr, false, y);
    };
    backward = [&] { cnn::im2col_conv_backward(o.g, o.N, o.O, 1, x, gy, w, dx, dw); };
  } else {
    const cnn::OnednnConvShape s = onednn_shape(o, v);
    forward = [&, s] { cnn::onednn_conv_forward(s, x, w, nullptr, false, y); };
    backward = [&, s] { cnn::onednn_conv_backward(s, x, gy, w, dx, dw); };
  }
  cnn::ScopedPrecision precision(v == kIm2colBf16 ? cnn::Precision::bf16 : cnn::Precision::fp32);
  auto start = clock_type::now();
  forward();
  const double f = std::chrono::duration<double>(clock_type::now() - start).count();
  start = clock_type::now();
  backward();
  const double b = std::chrono::duration<double>(clock_type::now() - start).count();
  return {f, b};
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 128;
  const std::string model = argc > 4 ? argv[4] : "all";
  const bool known_model = model == "all" || model == "vgg6" || model == "resnet20";
  if (rounds < 1 || threads < 1 || batch < 1 || !known_model) {
    std::fprintf(stderr,
                 "usage: bench_conv_onednn [ROUNDS>=1 [THREADS>=1 [BATCH>=1 [all|vgg6|resnet20]]]]\n");
    return 2;
  }
  omp_set_num_threads(threads);
  cnn::set_blas_threads(threads);
  cnn::Generator gen(0);
  std::vector<Layer> layers;
  std::vector<Operands> ops;
  for (const Layer& l : kLayers) {
    if (model != "all" && model != l.model) continue;
    const int64_t pad = l.kernel / 2;
    Operands o;
    o.g = cnn::make_conv_geometry(l.in, l.size, l.size, l.kernel, l.kernel, l.stride, l.stride, pad,
                                  pad, 1, 1);
    o.N = batch;
    o.O = l.out;
    o.x = cnn::randn({batch, l.in, l.size, l.size}, gen);
    o.w = cnn::randn({l.out, l.in, l.kernel, l.kernel}, gen);
    o.gy = cnn::randn({batch, l.out, o.g.out_h, o.g.out_w}, gen);
    o.y = cnn::Tensor::empty({batch, l.out, o.g.out_h, o.g.out_w});
    o.dx = cnn::Tensor::empty(o.x.shape());
    o.dw = cnn::Tensor::empty(o.w.shape());
    layers.push_back(l);
    ops.push_back(std::move(o));
  }
  const size_t n = ops.size();
  std::vector<double> best(n * kVariants * 2, 1e30);
  for (int round = 0; round <= rounds; ++round)  // round 0 warms up (primitives, buffers)
    for (size_t i = 0; i < n; ++i)
      for (int v = 0; v < kVariants; ++v) {
        const auto [f, b] = time_once(ops[i], static_cast<Variant>(v));
        if (round == 0) continue;
        best[(i * kVariants + v) * 2] = std::min(best[(i * kVariants + v) * 2], f);
        best[(i * kVariants + v) * 2 + 1] = std::min(best[(i * kVariants + v) * 2 + 1], b);
      }

  std::printf("conv forward / backward (dx + dw) ms, batch %ld, %d threads, min of %d rounds\n",
              static_cast<long>(batch), threads, rounds);
  std::printf("%-30s", "layer (x count)");
  for (const char* name : kNames) std::printf(" %15s", name);
  std::printf("\n");
  std::map<std::string, std::vector<double>> totals;
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = layers[i];
    char name[64];
    std::snprintf(name, sizeof name, "%s %ld->%ld@%ld k%ld s%ld x%ld", l.model, (long)l.in,
                  (long)l.out, (long)l.size, (long)l.kernel, (long)l.stride, (long)l.count);
    std::printf("%-30s", name);
    for (int v = 0; v < kVariants; ++v) {
      const double f = best[(i * kVariants + v) * 2] * 1e3,
                   b = best[(i * kVariants + v) * 2 + 1] * 1e3;
      std::vector<double>& total = totals[l.model];
      total.resize(kVariants * 2, 0.0);
      total[v * 2] += f * l.count;
      total[v * 2 + 1] += b * l.count;
      char cell[32];
      std::snprintf(cell, sizeof cell, "%.2f/%.2f", f, b);
      std::printf(" %15s", cell);
    }
    std::printf("   [auto: %s]\n", auto_name(ops[i]).c_str());
  }
  for (const auto& entry : totals) {
    std::printf("%-30s", (entry.first + " total (fwd/bwd)").c_str());
    for (int v = 0; v < kVariants; ++v) {
      char cell[32];
      std::snprintf(cell, sizeof cell, "%.1f/%.1f", entry.second[v * 2], entry.second[v * 2 + 1]);
      std::printf(" %15s", cell);
    }
    std::printf("\n");
  }
  std::printf("\noneDNN's kernels (forward / backward data / backward weights):\n");
  for (size_t i = 0; i < n; ++i)
    std::printf("  %ld->%ld@%ld k%ld s%ld: bf16 %s; fp32 %s\n", (long)layers[i].in,
                (long)layers[i].out, (long)layers[i].size, (long)layers[i].kernel,
                (long)layers[i].stride,
                cnn::onednn_conv_implementation(onednn_shape(ops[i], kOnednnAny)).c_str(),
                cnn::onednn_conv_implementation(onednn_shape(ops[i], kOnednnF32)).c_str());
  return 0;
}
