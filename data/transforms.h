// Per-image transforms, fused: one pass reads a uint8 CHW image and writes the normalized
// float CHW output with the random crop (zero padding), horizontal flip and cutout already
// applied. The random choices of a sample come from a counter-based stream keyed by
// (seed, epoch, position in the epoch), so any batch can be rebuilt on its own.
//
// Dimension legend: C channels, H height, W width.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace cnn {

// (x / 255 - mean[c]) / std[c]; empty vectors mean just x / 255 (values in [0, 1]).
struct Normalization {
  std::vector<float> mean;
  std::vector<float> std;
  bool enabled() const { return !mean.empty(); }
  std::string describe() const;  // "mean [0.4914, ...], std [...]" or "none ([0, 1])"
};

// The usual CIFAR-10 training-set statistics (as in many PyTorch CIFAR examples).
Normalization cifar10_normalization();

// Per-channel mean and (population) standard deviation of x / 255 over the whole dataset.
Normalization compute_normalization(const ImageDataset& dataset);

// What transforms.Compose([RandomCrop(H, padding), RandomHorizontalFlip(), ...]) would do.
struct AugmentOptions {
  bool random_crop = false;
  int64_t crop_padding = 4;  // zero padding on each side before the crop
  bool hflip = false;        // mirror left-right with probability 0.5
  bool cutout = false;       // DeVries & Taylor 2017: zero a square at a random centre
  int64_t cutout_size = 8;
  bool any() const { return random_crop || hflip || cutout; }
};

// A small counter-based generator (splitmix64): cheap to create per sample, so each
// sample's randomness depends only on its key, not on what was drawn before it.
class SampleRandom {
 public:
  explicit SampleRandom(uint64_t key) : state_(key) {}
  uint64_t next();
  int64_t below(int64_t bound);  // uniform in [0, bound)
  bool coin() { return (next() >> 63) != 0; }

 private:
  uint64_t state_;
};

// Mixes several words into one well-spread 64-bit key (seed, epoch, stream, position).
uint64_t mix_key(uint64_t a, uint64_t b, uint64_t c = 0);

// The random choices for one sample.
struct AugmentParams {
  // The crop window's offset from the centred position, each in [-padding, padding]:
  // output pixel (y, x) shows source pixel (y + shift_y, x + shift_x) before any flip.
  int64_t shift_y = 0, shift_x = 0;
  bool flip = false;
  int64_t cutout_y = -1, cutout_x = -1;  // centre of the cutout square, -1 = none
};

AugmentParams draw_augment_params(const AugmentOptions& options, int64_t height, int64_t width,
                                  SampleRandom& random);

// uint8 -> normalized float, one table of 256 values per channel: [C * 256].
std::vector<float> normalization_table(const Normalization& normalization, int64_t channels);

// source: uint8 [C, H, W]; table: [C * 256]; output: float [C, H, W].
// Without augmentation (options.any() false) this is just the table lookup.
void transform_image(const uint8_t* source, int64_t channels, int64_t height, int64_t width,
                     const float* table, const AugmentOptions& options, const AugmentParams& params,
                     float* output);

}  // namespace cnn
