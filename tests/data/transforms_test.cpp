// The fused transform against a naive reference (pad, crop, flip, normalize, cutout done
// one step at a time), normalization statistics, and the keyed random choices.
#include "data/transforms.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "core/error.h"

using namespace cnn;

namespace {
constexpr int64_t C = 3, H = 6, W = 5;

// Pixels 1..255 (never 0, so the zero padding is recognisable).
std::vector<uint8_t> test_image() {
  std::vector<uint8_t> image(C * H * W);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(1 + (i * 37) % 254);
  return image;
}

// torchvision's order, step by step: pad with 0, crop, flip, normalize, cutout.
std::vector<float> reference(const std::vector<uint8_t>& image, const Normalization& norm,
                             const AugmentOptions& options, const AugmentParams& params) {
  const int64_t pad = options.random_crop ? options.crop_padding : 0;
  const int64_t ph = H + 2 * pad, pw = W + 2 * pad;
  std::vector<int> padded(C * ph * pw, 0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        padded[(c * ph + y + pad) * pw + x + pad] = image[(c * H + y) * W + x];
  std::vector<float> out(C * H * W);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t cx = params.flip ? W - 1 - x : x;
        const int value =
            padded[(c * ph + y + pad + params.shift_y) * pw + cx + pad + params.shift_x];
        float v = value / 255.0f;
        if (norm.enabled()) v = (v - norm.mean[c]) / norm.std[c];
        out[(c * H + y) * W + x] = v;
      }
  if (params.cutout_y >= 0) {
    const int64_t half = options.cutout_size / 2;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = params.cutout_y - half; y < params.cutout_y - half + options.cutout_size;
           ++y)
        for (int64_t x = params.cutout_x - half; x < params.cutout_x - half + options.cutout_size;
             ++x)
          if (y >= 0 && y < H && x >= 0 && x < W) out[(c * H + y) * W + x] = 0.0f;
  }
  return out;
}

std::vector<float> fused(const std::vector<uint8_t>& image, const Normalization& norm,
                         const AugmentOptions& options, const AugmentParams& params) {
  const auto table = normalization_table(norm, C);
  std::vector<float> out(C * H * W, -99.0f);
  transform_image(image.data(), C, H, W, table.data(), options, params, out.data());
  return out;
}

void check_close(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-6));
}
}  // namespace

TEST_CASE("transforms: without augmentation, pixels / 255 or normalized", "[data][transforms]") {
  const auto image = test_image();
  const Normalization none;
  const auto plain = fused(image, none, {}, {});
  for (size_t i = 0; i < image.size(); ++i) {
    REQUIRE(plain[i] == Approx(image[i] / 255.0f));
    REQUIRE(plain[i] >= 0.0f);
    REQUIRE(plain[i] <= 1.0f);
  }
  const Normalization norm{{0.5f, 0.25f, 0.1f}, {0.2f, 0.5f, 2.0f}};
  check_close(fused(image, norm, {}, {}), reference(image, norm, {}, {}));
  CHECK_THROWS_WITH(normalization_table(Normalization{{0.5f}, {0.2f}}, 3),
                    Catch::Contains("data.normalize"));
}

TEST_CASE("transforms: a flip is an exact mirror", "[data][transforms]") {
  const auto image = test_image();
  AugmentOptions options;
  options.hflip = true;
  AugmentParams params;
  params.flip = true;
  const auto out = fused(image, {}, options, params);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        REQUIRE(out[(c * H + y) * W + x] == image[(c * H + y) * W + (W - 1 - x)] / 255.0f);
}

TEST_CASE("transforms: every crop, flip and cutout matches the step-by-step reference",
          "[data][transforms]") {
  const auto image = test_image();
  const Normalization norm{{0.4f, 0.5f, 0.6f}, {0.2f, 0.3f, 0.25f}};
  AugmentOptions options;
  options.random_crop = true;
  options.crop_padding = 2;
  options.hflip = true;
  for (int64_t sy = -2; sy <= 2; ++sy)
    for (int64_t sx = -2; sx <= 2; ++sx)
      for (bool flip : {false, true}) {
        AugmentParams params;
        params.shift_y = sy;
        params.shift_x = sx;
        params.flip = flip;
        check_close(fused(image, norm, options, params), reference(image, norm, options, params));
      }
  options.cutout = true;
  options.cutout_size = 3;
  for (int64_t cy : {0, 2, 5})
    for (int64_t cx : {0, 3, 4}) {
      AugmentParams params;
      params.shift_y = 1;
      params.shift_x = -1;
      params.flip = true;
      params.cutout_y = cy;
      params.cutout_x = cx;
      check_close(fused(image, norm, options, params), reference(image, norm, options, params));
    }
  // A padding wider than the image: windows entirely in the padding are all pad value.
  options.crop_padding = 7;
  AugmentParams far;
  far.shift_y = 7;
  far.shift_x = -7;
  check_close(fused(image, norm, options, far), reference(image, norm, options, far));
}

TEST_CASE("transforms: crops stay inside the padded image", "[data][transforms]") {
  const auto image = test_image();
  AugmentOptions options;
  options.random_crop = true;
  options.crop_padding = 4;
  std::set<int64_t> shifts_seen;
  for (uint64_t key = 0; key < 400; ++key) {
    SampleRandom random(mix_key(1, key));
    const auto params = draw_augment_params(options, H, W, random);
    REQUIRE(std::abs(params.shift_y) <= 4);
    REQUIRE(std::abs(params.shift_x) <= 4);
    REQUIRE_FALSE(params.flip);  // hflip is off
    REQUIRE(params.cutout_y == -1);
    shifts_seen.insert(params.shift_x);
    // Every output value is the zero pad or a pixel of the image.
    const auto out = fused(image, {}, options, params);
    std::set<float> allowed{0.0f};
    for (uint8_t v : image) allowed.insert(v / 255.0f);
    for (float v : out) REQUIRE(allowed.count(v) == 1);
  }
  CHECK(shifts_seen.size() == 9);  // all of -4..4 occur
}

TEST_CASE("transforms: keyed random choices are reproducible and fair", "[data][transforms]") {
  AugmentOptions options;
  options.random_crop = options.hflip = options.cutout = true;
  int flips = 0;
  for (uint64_t key = 0; key < 2000; ++key) {
    SampleRandom a(mix_key(42, 3, key)), b(mix_key(42, 3, key));
    const auto pa = draw_augment_params(options, 32, 32, a);
    const auto pb = draw_augment_params(options, 32, 32, b);
    REQUIRE(pa.shift_y == pb.shift_y);
    REQUIRE(pa.shift_x == pb.shift_x);
    REQUIRE(pa.flip == pb.flip);
    REQUIRE(pa.cutout_y == pb.cutout_y);
    REQUIRE(pa.cutout_x == pb.cutout_x);
    REQUIRE(pa.cutout_y >= 0);
    REQUIRE(pa.cutout_y < 32);
    flips += pa.flip;
  }
  CHECK(flips > 900);  // p = 0.5
  CHECK(flips < 1100);
  CHECK(mix_key(1, 2) != mix_key(2, 1));
  CHECK(mix_key(1, 2, 3) != mix_key(1, 2, 4));
}

TEST_CASE("transforms: computed normalization matches a direct computation", "[data][transforms]") {
  ImageDataset dataset;
  dataset.channels = 2;
  dataset.height = 3;
  dataset.width = 3;
  for (int n = 0; n < 5; ++n)
    for (int i = 0; i < 18; ++i)
      dataset.images.push_back(static_cast<uint8_t>((n * 31 + i * i * 7) % 256));
  dataset.labels.assign(5, 0);
  dataset.classes = {"only"};
  const auto norm = compute_normalization(dataset);
  REQUIRE(norm.mean.size() == 2);
  for (int c = 0; c < 2; ++c) {
    double sum = 0, squares = 0;
    for (int n = 0; n < 5; ++n)
      for (int p = 0; p < 9; ++p) {
        const double v = dataset.images[n * 18 + c * 9 + p] / 255.0;
        sum += v;
        squares += v * v;
      }
    const double mean = sum / 45, var = squares / 45 - mean * mean;
    CHECK(norm.mean[c] == Approx(mean).epsilon(1e-5));
    CHECK(norm.std[c] == Approx(std::sqrt(var)).epsilon(1e-5));
  }
  CHECK(cifar10_normalization().mean.size() == 3);
  CHECK_THAT(norm.describe(), Catch::Contains("mean ["));
}
