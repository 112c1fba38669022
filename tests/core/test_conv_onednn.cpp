// core/conv_onednn.h against the im2col convolution (core/conv_im2col.h) as the reference:
// in fp32 on the same operands, in bf16 on the operands rounded with core/bf16.h (the
// emulated bf16 convolution), forward (bias, fused ReLU) and both gradients, on several
// geometries (padding, stride, groups, dilation, 1x1, odd sizes) and in every activation
// layout. Both sides sum the same exact products in fp32 in different orders, so each
// element may differ by the bound of two fp32 sums of k terms: 2 (k + 2) 2^-24 sum|a||b|
// (tests/core/test_gemm_bf16.cpp), sum|a||b| computed by the reference on |a| and |b|.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "core/bf16.h"
#include "core/conv_im2col.h"
#include "core/conv_onednn.h"
#include "core/precision.h"
#include "core/random.h"
#include "core/tensor.h"
#include "tests/bf16_bound.h"
#include "tests/same_values.h"

using namespace cnn;
using cnn::testing::count_off_bf16_bound;
using cnn::testing::same_values;

namespace {

struct Case {
  std::string name;
  int64_t N, C, H, W, O, kh, kw, stride, pad, dilation, groups;
};

const std::vector<Case> kCases = {
    {"3x3 pad 1 stride 1", 2, 8, 10, 10, 16, 3, 3, 1, 1, 1, 1},
    {"5x3 stride 2 groups 2 padded", 3, 6, 9, 11, 4, 5, 3, 2, 2, 1, 2},
    {"1x1 stride 2", 2, 16, 7, 9, 24, 1, 1, 2, 0, 1, 1},
    {"3x3 dilation 2 pad 2", 2, 5, 12, 8, 7, 3, 3, 1, 2, 2, 1},
    {"3 input channels (a first layer)", 4, 3, 8, 8, 32, 3, 3, 1, 1, 1, 1},
    {"depthwise 3x3", 2, 16, 6, 6, 16, 3, 3, 1, 1, 1, 16}};

struct Operands {
  ConvGeometry g;
  Case c;
  Tensor x, w, b, gy;
};

Operands operands(const Case& c, Generator& generator) {
  Operands o;
  o.c = c;
  const int64_t kh_pad = c.kh == 1 ? 0 : c.pad, kw_pad = c.kw == 1 ? 0 : c.pad;
  o.g = make_conv_geometry(c.C, c.H, c.W, c.kh, c.kw, c.stride, c.stride, kh_pad, kw_pad,
                           c.dilation, c.dilation);
  o.x = randn({c.N, c.C, c.H, c.W}, generator);
  o.w = randn({c.O, c.C / c.groups, c.kh, c.kw}, generator);
  o.b = randn({c.O}, generator);
  o.gy = randn({c.N, c.O, o.g.out_h, o.g.out_w}, generator);
  return o;
}

Tensor map(const Tensor& t, float (*f)(float)) {
  Tensor out = Tensor::empty(t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) out.data()[i] = f(t.data()[i]);
  return out;
}
float absolute(float v) { return std::fabs(v); }
float rounded(float v) { return round_to_bf16(v); }

struct Results {
  Tensor y, y_relu, dx, dw;
};

// The im2col reference, always in fp32 (on the operands it is given).
Results im2col_reference(const Operands& o, const Tensor& x, const Tensor& w, const Tensor& gy,
                         const Tensor& b) {
  ScopedPrecision fp32(Precision::fp32);
  const Case& c = o.c;
  Results r{Tensor::empty(o.gy.shape()), Tensor::empty(o.gy.shape()), Tensor::empty(o.x.shape()),
            Tensor::empty(o.w.shape())};
  const float* bias = b.defined() ? b.data() : nullptr;
  im2col_conv_forward(o.g, c.N, c.O, c.groups, x.data(), w.data(), bias, false, r.y.data());
  im2col_conv_forward(o.g, c.N, c.O, c.groups, x.data(), w.data(), bias, true, r.y_relu.data());
  im2col_conv_backward(o.g, c.N, c.O, c.groups, x.data(), gy.data(), w.data(), r.dx.data(),
                       r.dw.data());
  return r;
}

Results onednn(const Operands& o, bool bf16, OnednnConvLayout layout) {
  const Case& c = o.c;
  OnednnConvShape s;
  s.geometry = o.g;
  s.batch = c.N;
  s.out_channels = c.O;
  s.groups = c.groups;
  s.bf16 = bf16;
  s.bias = true;
  s.layout = layout;
  REQUIRE(onednn_conv_supported(s));
  Results r{Tensor::empty(o.gy.shape()), Tensor::empty(o.gy.shape()), Tensor::empty(o.x.shape()),
            Tensor::empty(o.w.shape())};
  onednn_conv_forward(s, o.x.data(), o.w.data(), o.b.data(), false, r.y.data());
  onednn_conv_forward(s, o.x.data(), o.w.data(), o.b.data(), true, r.y_relu.data());
  onednn_conv_backward(s, o.x.data(), o.gy.data(), o.w.data(), r.dx.data(), r.dw.data());
  return r;
}

void check_against_reference(const Operands& o, bool bf16, OnednnConvLayout layout) {
  const Case& c = o.c;
  INFO(c.name << ", " << (bf16 ? "bf16" : "fp32") << ", layout "
              << onednn_conv_layout_name(layout));
  const Results got = onednn(o, bf16, layout);
  // The emulated bf16 convolution: the same products on operands rounded by core/bf16.h.
  const Tensor x = bf16 ? map(o.x, rounded) : o.x, w = bf16 ? map(o.w, rounded) : o.w;
  const Tensor gy = bf16 ? map(o.gy, rounded) : o.gy;
  const Results want = im2col_reference(o, x, w, gy, o.b);
  const Results scale = im2col_reference(o, map(x, absolute), map(w, absolute), map(gy, absolute),
                                         map(o.b, absolute));
  const int64_t terms_y = c.C / c.groups * c.kh * c.kw;
  CHECK(count_off_bf16_bound(got.y, want.y, scale.y, terms_y) == 0);
  CHECK(count_off_bf16_bound(got.y_relu, want.y_relu, scale.y, terms_y) == 0);
  CHECK(count_off_bf16_bound(got.dx, want.dx, scale.dx, c.O / c.groups * c.kh * c.kw) == 0);
  CHECK(count_off_bf16_bound(got.dw, want.dw, scale.dw, c.N * o.g.out_pixels()) == 0);
  if (bf16) {  // and the rounding did happen: fp32 operands give other outputs
    const Results fp32 = im2col_reference(o, o.x, o.w, o.gy, o.b);
    int64_t differ = 0;
    for (int64_t i = 0; i < got.y.numel(); ++i) differ += got.y.data()[i] != fp32.y.data()[i];
    CHECK(differ > 0);
  }
}

}  // namespace

TEST_CASE("conv_onednn: fp32 matches im2col within fp32's summation bound", "[conv][onednn]") {
  Generator generator(15);
  for (const Case& c : kCases)
    check_against_reference(operands(c, generator), false, OnednnConvLayout::any);
}

TEST_CASE("conv_onednn: bf16 matches the emulated bf16 convolution", "[conv][onednn][bf16]") {
  Generator generator(18);
  OnednnConvShape probe;
  probe.geometry = make_conv_geometry(8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1);
  probe.batch = 1;
  probe.out_channels = 8;
  probe.bf16 = true;
  if (!onednn_conv_supported(probe)) {
    WARN("skipped: oneDNN makes no bf16 convolution on this CPU (it needs AVX-512)");
    return;
  }
  for (const Case& c : kCases) {
    const Operands o = operands(c, generator);
    for (OnednnConvLayout layout :
         {OnednnConvLayout::any, OnednnConvLayout::nchw, OnednnConvLayout::nhwc})
      check_against_reference(o, true, layout);
  }
}

TEST_CASE("conv_onednn: only the wanted gradients are written, the kernel is named",
          "[conv][onednn]") {
  Generator generator(3);
  const Operands o = operands(kCases[0], generator);
  OnednnConvShape s;
  s.geometry = o.g;
  s.batch = o.c.N;
  s.out_channels = o.c.O;
  Tensor dw = Tensor::empty(o.w.shape());
  onednn_conv_backward(s, o.x.data(), o.gy.data(), o.w.data(), nullptr, dw.data());
  Tensor dx = Tensor::empty(o.x.shape());
  onednn_conv_backward(s, nullptr, o.gy.data(), o.w.data(), dx.data(), nullptr);
  const Results want = im2col_reference(o, o.x, o.w, o.gy, Tensor());
  const Results scale =
      im2col_reference(o, map(o.x, absolute), map(o.w, absolute), map(o.gy, absolute), Tensor());
  CHECK(count_off_bf16_bound(dw, want.dw, scale.dw, o.c.N * o.g.out_pixels()) == 0);
  CHECK(count_off_bf16_bound(dx, want.dx, scale.dx, o.c.O * 9) == 0);
  const std::string impl = onednn_conv_implementation(s);
  INFO(impl);
  CHECK(impl.find(" / ") != std::string::npos);
  CHECK(onednn_conv_runs_fast(s) == (impl.find("ref") == std::string::npos));
}

// oneDNN rounds the operands (its f32 -> bf16 reorder): to nearest even, as core/bf16.h,
// seen through a 1x1 conv with weight 1 (y = bf16(x) exactly). Subnormal inputs give 0
// (VCVTNEPS2BF16 flushes them, and vdpbf16ps would treat them as zero anyway), where
// core/bf16.h keeps them: the one difference docs/precision.md states.
TEST_CASE("conv_onednn: bf16 operands round to nearest even, subnormals give 0",
          "[conv][onednn][bf16]") {
  if (!onednn_bf16_conv_available()) {
    WARN("skipped: oneDNN makes no bf16 convolution on this CPU (it needs AVX-512)");
    return;
  }
  const float one = 1.0f, ulp = std::ldexp(1.0f, -7);  // bf16's spacing at 1
  std::vector<float> x = {one + ulp / 2,
                          one + 3 * ulp / 2,
                          one + ulp / 2 + ulp / 64,
                          -(one + ulp / 2),
                          3.14159265f,
                          -2.71828182f,
                          65504.0f,
                          1e-30f,
                          std::ldexp(1.0f, -126)};
  const std::vector<float> subnormals = {1e-39f, -3e-40f, std::ldexp(1.0f, -140)};
  Generator generator(9);
  const Tensor random = randn({64}, generator);
  x.insert(x.end(), random.data(), random.data() + 64);
  const size_t normal = x.size();
  x.insert(x.end(), subnormals.begin(), subnormals.end());
  const int64_t n = static_cast<int64_t>(x.size());
  OnednnConvShape s;
  s.geometry = make_conv_geometry(1, 1, n, 1, 1, 1, 1, 0, 0, 1, 1);
  s.batch = 1;
  s.out_channels = 1;
  s.bf16 = true;
  const float w = 1.0f;
  std::vector<float> y(n);
  onednn_conv_forward(s, x.data(), &w, nullptr, false, y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("x = " << x[i]);
    CHECK(y[i] == (i < normal ? round_to_bf16(x[i]) : 0.0f));
  }
  CHECK(round_to_bf16(1e-39f) != 0.0f);  // core/bf16.h keeps what oneDNN flushes
}

// The forward's kept input (bf16, blocked) gives the weight gradient x gives, bit for bit:
// the same rounding of the same values, only done once.
TEST_CASE("conv_onednn: the forward's kept input gives dW bit for bit", "[conv][onednn][bf16]") {
  if (!onednn_bf16_conv_available()) {
    WARN("skipped: oneDNN makes no bf16 convolution on this CPU (it needs AVX-512)");
    return;
  }
  Generator generator(11);
  for (const Case& c : kCases) {
    INFO(c.name);
    const Operands o = operands(c, generator);
    OnednnConvShape s;
    s.geometry = o.g;
    s.batch = c.N;
    s.out_channels = c.O;
    s.groups = c.groups;
    s.bf16 = true;
    if (!onednn_conv_supported(s)) continue;
    Tensor y = Tensor::empty(o.gy.shape()), y_kept = Tensor::empty(o.gy.shape());
    onednn_conv_forward(s, o.x.data(), o.w.data(), nullptr, false, y.data());
    const auto kept = onednn_conv_forward(s, o.x.data(), o.w.data(), nullptr, false,
                                          y_kept.data(), true);
    REQUIRE(kept != nullptr);  // bf16: never the fp32 input as it is
    CHECK(same_values(y, y_kept));
    Tensor dw = Tensor::empty(o.w.shape()), dw_kept = Tensor::empty(o.w.shape());
    onednn_conv_backward(s, o.x.data(), o.gy.data(), o.w.data(), nullptr, dw.data());
    onednn_conv_backward(s, nullptr, o.gy.data(), o.w.data(), nullptr, dw_kept.data(),
                         kept.get());
    CHECK(same_values(dw, dw_kept));
  }
}
