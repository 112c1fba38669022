// Finite-difference gradient checker (see gradcheck.h).
#include "tests/gradcheck.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"

namespace cnn::testing {

namespace {
double projected_loss(const Tensor& out, const Tensor& weights) {
  Tensor o = out.contiguous();
  double acc = 0.0;
  for (int64_t i = 0; i < o.numel(); ++i)
    acc += static_cast<double>(o.data()[i]) * static_cast<double>(weights.data()[i]);
  return acc;
}
}  // namespace

void check_gradients(const std::string& what, const TensorFn& f, std::vector<Tensor> inputs,
                     const GradCheckOptions& options) {
  for (Tensor& t : inputs)
    if (t.requires_grad()) t.zero_grad();
  Tensor out = f(inputs);
  Generator gen(1234);
  Tensor weights = randn(out.shape(), gen);
  // Analytic: backward of sum(w * out) is backward of out seeded with w.
  out.backward(weights);

  for (size_t which = 0; which < inputs.size(); ++which) {
    Tensor input = inputs[which];
    if (!input.defined() || !input.requires_grad()) continue;
    Tensor analytic = input.grad();
    INFO(what << ": input " << which << " of shape " << shape_str(input.shape()));
    REQUIRE(analytic.defined());
    REQUIRE(analytic.shape() == input.shape());
    float* x = input.data();
    int mismatches = 0;
    for (int64_t i = 0; i < input.numel() && mismatches == 0; ++i) {
      if (options.use_kink && std::fabs(x[i] - options.kink) < options.kink_range) continue;
      float original = x[i];
      double plus, minus;
      {
        NoGradGuard no_grad;
        x[i] = original + static_cast<float>(options.eps);
        plus = projected_loss(f(inputs), weights);
        x[i] = original - static_cast<float>(options.eps);
        minus = projected_loss(f(inputs), weights);
        x[i] = original;
      }
      // Use the actually representable step for the difference quotient.
      double step = static_cast<double>(original + static_cast<float>(options.eps)) -
                    static_cast<double>(original - static_cast<float>(options.eps));
      double numeric = (plus - minus) / step;
      double a = analytic.data()[i];
      double tolerance = options.atol + options.rtol * std::max(std::fabs(a), std::fabs(numeric));
      if (std::fabs(a - numeric) > tolerance) {
        ++mismatches;
        FAIL_CHECK(what << ": input " << which << " element " << i << ": analytic " << a
                        << " vs numeric " << numeric << " (tolerance " << tolerance << ")");
      }
    }
    CHECK(mismatches == 0);
  }
}

}  // namespace cnn::testing
