// Seeded random numbers and PyTorch-style weight initialisation.
// A Generator's state can be saved and restored exactly (for resume).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "core/tensor.h"

namespace cnn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  void seed(uint64_t seed) { engine_.seed(seed); }
  float uniform(float low = 0.0f, float high = 1.0f);
  float normal(float mean = 0.0f, float stddev = 1.0f);
  uint64_t next_u64() { return engine_(); }
  int64_t randint(int64_t low, int64_t high);  // in [low, high)
  std::mt19937_64& engine() { return engine_; }
  std::string state() const;                 // serialised engine state
  void set_state(const std::string& state);  // throws on malformed text

 private:
  std::mt19937_64 engine_;
};

// fan_in / fan_out as torch.nn.init computes them: dims 1 and 0 times the receptive field.
int64_t fan_in(const Shape& shape);
int64_t fan_out(const Shape& shape);

enum class FanMode { FanIn, FanOut };

// In-place initialisers (no tape).
void uniform_(Tensor& t, float low, float high, Generator& gen);
void normal_(Tensor& t, float mean, float stddev, Generator& gen);
// Kaiming (He et al. 2015); `a` is the negative slope of the following leaky ReLU (0 = ReLU).
void kaiming_uniform_(Tensor& t, Generator& gen, float a = 0.0f, FanMode mode = FanMode::FanIn);
void kaiming_normal_(Tensor& t, Generator& gen, float a = 0.0f, FanMode mode = FanMode::FanIn);
// Xavier / Glorot (2010).
void xavier_uniform_(Tensor& t, Generator& gen, float gain = 1.0f);
void xavier_normal_(Tensor& t, Generator& gen, float gain = 1.0f);

Tensor rand(const Shape& shape, Generator& gen);   // U[0,1)
Tensor randn(const Shape& shape, Generator& gen);  // N(0,1)

}  // namespace cnn
