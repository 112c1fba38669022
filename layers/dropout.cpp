// Dropout: y = x * mask, mask = (u >= p) / (1 - p); the backward multiplies by the same mask.
#include "layers/dropout.h"

#include <sstream>

#include "core/autograd.h"
#include "core/parallel.h"
#include "layers/registry.h"

namespace cnn {

namespace {
void check_p(float p) {
  CNN_CHECK(p >= 0.0f && p <= 1.0f, "dropout: p must be between 0 and 1, got ", p);
}
}  // namespace

Tensor dropout(const Tensor& input, float p, bool training, Generator& generator) {
  check_p(p);
  if (!training || p == 0.0f) return input;
  Tensor x = input.contiguous();
  const int64_t n = x.numel();
  Tensor mask = Tensor::empty(x.shape());
  float* pm = mask.data();
  // p == 1 drops everything (PyTorch returns zeros), not a division by zero.
  const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int64_t i = 0; i < n; ++i) pm[i] = generator.uniform() >= p ? keep_scale : 0.0f;
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = out.data();
#pragma omp parallel for schedule(static) if (n > kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) py[i] = px[i] * pm[i];
  return record_op("dropout", out, {input}, [mask, n](const Tensor& grad_output) {
    Tensor gy = grad_output.contiguous();
    Tensor dx = Tensor::empty(mask.shape());
    const float* pg = gy.data();
    const float* pm = mask.data();
    float* pd = dx.data();
#pragma omp parallel for schedule(static) if (n > kParallelMinElements)
    for (int64_t i = 0; i < n; ++i) pd[i] = pg[i] * pm[i];
    return std::vector<Tensor>{dx};
  });
}

Dropout::Dropout(float p, uint64_t seed) : p_(p), generator_(seed) { check_p(p); }

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p_, training(), generator_); }

std::string Dropout::describe() const {
  std::ostringstream out;
  out << "dropout(p=" << p_ << ")";
  return out.str();
}

namespace {
CNNLAB_REGISTER_LAYER(LayerInfo{
    "dropout",
    "zero elements with probability p in training, scale the rest by 1/(1-p); eval: identity",
    {{"p", "0.5", "probability of zeroing an element"}},
    [](const LayerArgs& args, BuildContext& context) -> ModulePtr {
      CNN_CHECK(context.generator, "dropout: the build context has no generator");
      const float p = args.get_float("p");
      CNN_CHECK(p >= 0.0f && p <= 1.0f, args.key_path("p"), ": expected a probability between 0 "
                "and 1, found ", p);
      return std::make_shared<Dropout>(p, context.generator->next_u64());
    }});
}  // namespace

}  // namespace cnn
