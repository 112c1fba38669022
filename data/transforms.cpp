// The fused uint8 -> augmented, normalized float transform and its random choices.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace cnn {

std::string Normalization::describe() const {
  if (!enabled()) return "none (pixels / 255, in [0, 1])";
  std::ostringstream out;
  auto list = [&](const std::vector<float>& values) {
    out << "[";
    for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
    out << "]";
  };
  out << "mean ";
  list(mean);
  out << ", std ";
  list(std);
  return out.str();
}

Normalization cifar10_normalization() {
  return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
}

Normalization compute_normalization(const ImageDataset& dataset) {
  CNN_CHECK(!dataset.empty(), "normalize: auto needs a non-empty training set");
  const int64_t plane = dataset.height * dataset.width;
  Normalization result;
  for (int64_t c = 0; c < dataset.channels; ++c) {
    // Exact integer sums: 50,000 images * 1,024 pixels * 255^2 fits easily in 64 bits.
    uint64_t sum = 0, sum_squares = 0;
#pragma omp parallel for reduction(+ : sum, sum_squares)
    for (int64_t n = 0; n < dataset.size(); ++n) {
      const uint8_t* pixels = dataset.image(n) + c * plane;
      uint64_t s = 0, q = 0;
      for (int64_t p = 0; p < plane; ++p) {
        s += pixels[p];
        q += static_cast<uint64_t>(pixels[p]) * pixels[p];
      }
      sum += s;
      sum_squares += q;
    }
    const double count = static_cast<double>(dataset.size()) * plane;
    const double mean = static_cast<double>(sum) / count;
    const double var = std::max(0.0, static_cast<double>(sum_squares) / count - mean * mean);
    result.mean.push_back(static_cast<float>(mean / 255.0));
    // A constant channel would divide by zero; keep it at unit scale instead.
    const double stddev = std::sqrt(var) / 255.0;
    result.std.push_back(static_cast<float>(stddev > 1e-8 ? stddev : 1.0));
  }
  return result;
}

uint64_t SampleRandom::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t SampleRandom::below(int64_t bound) {
  // Lemire's multiply-shift: unbiased enough for bounds this small, and branch-free.
  return static_cast<int64_t>(
      (static_cast<unsigned __int128>(next()) * static_cast<uint64_t>(bound)) >> 64);
}

uint64_t mix_key(uint64_t a, uint64_t b, uint64_t c) {
  SampleRandom random(a);
  uint64_t key = random.next() ^ b;
  random = SampleRandom(key);
  key = random.next() ^ c;
  random = SampleRandom(key);
  return random.next();
}

AugmentParams draw_augment_params(const AugmentOptions& options, int64_t height, int64_t width,
                                  SampleRandom& random) {
  AugmentParams params;
  // Always draw in the same order so enabling one option does not shift the others' streams.
  const int64_t span = 2 * options.crop_padding + 1;
  const int64_t crop_y = random.below(span), crop_x = random.below(span);
  const bool flip = random.coin();
  const int64_t cut_y = random.below(height), cut_x = random.below(width);
  if (options.random_crop) {
    params.shift_y = crop_y - options.crop_padding;
    params.shift_x = crop_x - options.crop_padding;
  }
  params.flip = options.hflip && flip;
  if (options.cutout) {
    params.cutout_y = cut_y;
    params.cutout_x = cut_x;
  }
  return params;
}

std::vector<float> normalization_table(const Normalization& normalization, int64_t channels) {
  CNN_CHECK(
      !normalization.enabled() || (static_cast<int64_t>(normalization.mean.size()) == channels &&
                                   static_cast<int64_t>(normalization.std.size()) == channels),
      "data.normalize: expected ", channels, " means and ", channels,
      " standard deviations (one per image channel), found ", normalization.mean.size(), " and ",
      normalization.std.size());
  std::vector<float> table(channels * 256);
  for (int64_t c = 0; c < channels; ++c) {
    const float mean = normalization.enabled() ? normalization.mean[c] : 0.0f;
    const float inv_std = normalization.enabled() ? 1.0f / normalization.std[c] : 1.0f;
    for (int v = 0; v < 256; ++v)
      table[c * 256 + v] = (static_cast<float>(v) / 255.0f - mean) * inv_std;
  }
  return table;
}

void transform_image(const uint8_t* source, int64_t channels, int64_t height, int64_t width,
                     const float* table, const AugmentOptions& options, const AugmentParams& params,
                     float* output) {
  const int64_t plane = height * width;
  if (!options.any()) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* lut = table + c * 256;
      const uint8_t* src = source + c * plane;
      float* dst = output + c * plane;
      for (int64_t p = 0; p < plane; ++p) dst[p] = lut[src[p]];
    }
    return;
  }
  // Output pixel (y, x) reads source pixel (y + shift_y, x' + shift_x), where x' is x or, when
  // flipped, W - 1 - x (torchvision crops first, then flips the crop). Outside the source is
  // the zero padding: raw value 0, normalized like any pixel (RandomCrop pads before Normalize).
  const int64_t shift_y = params.shift_y, shift_x = params.shift_x;
  // Source column of output x: x + shift_x, or W - 1 - x + shift_x when flipped; the output
  // columns whose source column is inside [0, W):
  const int64_t x_begin = std::clamp<int64_t>(params.flip ? shift_x : -shift_x, 0, width);
  const int64_t x_end =
      std::clamp<int64_t>(params.flip ? width + shift_x : width - shift_x, 0, width);
  for (int64_t c = 0; c < channels; ++c) {
    const float* lut = table + c * 256;
    const float pad_value = lut[0];
    const uint8_t* src = source + c * plane;
    float* dst = output + c * plane;
    for (int64_t y = 0; y < height; ++y, dst += width) {
      const int64_t sy = y + shift_y;
      if (sy < 0 || sy >= height || x_begin >= x_end) {
        std::fill(dst, dst + width, pad_value);
        continue;
      }
      const uint8_t* row = src + sy * width;
      std::fill(dst, dst + x_begin, pad_value);
      if (params.flip) {
        const uint8_t* from = row + (width - 1 + shift_x);  // source of output x = 0
        for (int64_t x = x_begin; x < x_end; ++x) dst[x] = lut[from[-x]];
      } else {
        const uint8_t* from = row + shift_x;
        for (int64_t x = x_begin; x < x_end; ++x) dst[x] = lut[from[x]];
      }
      std::fill(dst + x_end, dst + width, pad_value);
    }
  }
  if (params.cutout_y >= 0) {
    // Cutout zeroes the normalized tensor (the paper's code multiplies by a 0/1 mask after
    // Normalize); the square is clipped at the borders, so it may be smaller there.
    const int64_t half = options.cutout_size / 2;
    const int64_t y0 = std::clamp<int64_t>(params.cutout_y - half, 0, height);
    const int64_t y1 = std::clamp<int64_t>(params.cutout_y - half + options.cutout_size, 0, height);
    const int64_t x0 = std::clamp<int64_t>(params.cutout_x - half, 0, width);
    const int64_t x1 = std::clamp<int64_t>(params.cutout_x - half + options.cutout_size, 0, width);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = y0; y < y1; ++y)
        std::fill(output + c * plane + y * width + x0, output + c * plane + y * width + x1, 0.0f);
  }
}

}  // namespace cnn
