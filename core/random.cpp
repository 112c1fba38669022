// Seeded generator and the torch.nn.init initialisers.
#include "core/random.h"

#include <cmath>
#include <sstream>

namespace cnn {

float Generator::uniform(float low, float high) {
  // 24 random bits -> [0,1) exactly representable in float.
  float u = static_cast<float>(engine_() >> 40) * (1.0f / 16777216.0f);
  return low + (high - low) * u;
}

float Generator::normal(float mean, float stddev) {
  // Box-Muller on two uniforms; deterministic across standard libraries.
  double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
  double u2 = static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  return mean + stddev * static_cast<float>(z);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  CNN_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  uint64_t span = static_cast<uint64_t>(high - low);
  return low + static_cast<int64_t>(engine_() % span);
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 restored;
  in >> restored;
  CNN_CHECK(!in.fail(), "Generator::set_state: malformed generator state");
  engine_ = restored;
}

int64_t fan_in(const Shape& shape) {
  CNN_CHECK(shape.size() >= 2, "fan_in: needs a tensor of at least 2 dimensions, got ",
            shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return shape[1] * receptive;
}

int64_t fan_out(const Shape& shape) {
  CNN_CHECK(shape.size() >= 2, "fan_out: needs a tensor of at least 2 dimensions, got ",
            shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return shape[0] * receptive;
}

void uniform_(Tensor& t, float low, float high, Generator& gen) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform(low, high);
}

void normal_(Tensor& t, float mean, float stddev, Generator& gen) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.normal(mean, stddev);
}

namespace {
// torch.nn.init.calculate_gain for (leaky_)relu.
float relu_gain(float a) { return std::sqrt(2.0f / (1.0f + a * a)); }
int64_t chosen_fan(const Shape& shape, FanMode mode) {
  return mode == FanMode::FanIn ? fan_in(shape) : fan_out(shape);
}
}  // namespace

void kaiming_uniform_(Tensor& t, Generator& gen, float a, FanMode mode) {
  float bound = relu_gain(a) * std::sqrt(3.0f / static_cast<float>(chosen_fan(t.shape(), mode)));
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, Generator& gen, float a, FanMode mode) {
  float stddev = relu_gain(a) / std::sqrt(static_cast<float>(chosen_fan(t.shape(), mode)));
  normal_(t, 0.0f, stddev, gen);
}

void xavier_uniform_(Tensor& t, Generator& gen, float gain) {
  float fans = static_cast<float>(fan_in(t.shape()) + fan_out(t.shape()));
  float bound = gain * std::sqrt(6.0f / fans);
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, Generator& gen, float gain) {
  float fans = static_cast<float>(fan_in(t.shape()) + fan_out(t.shape()));
  normal_(t, 0.0f, gain * std::sqrt(2.0f / fans), gen);
}

Tensor rand(const Shape& shape, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  uniform_(t, 0.0f, 1.0f, gen);
  return t;
}

Tensor randn(const Shape& shape, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  normal_(t, 0.0f, 1.0f, gen);
  return t;
}

}  // namespace cnn
