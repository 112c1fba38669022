// The convolution paths' errors against a double reference (see bench_numerics.h).
#include "apps/bench_numerics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/conv2d.h"

namespace cnn {

namespace {

struct ConvCase {
  Conv2d* conv;
  Shape input;  // [images, C, H, W]
};

// Every Conv2d with the input it sees: a Sequential passes each child its predecessor's
// output; any other container (a residual block) gives each child its own input.
void collect_convs(Module& module, Shape shape, std::vector<ConvCase>& out) {
  if (auto* conv = dynamic_cast<Conv2d*>(&module)) {
    out.push_back({conv, shape});
    return;
  }
  const bool sequential = dynamic_cast<Sequential*>(&module) != nullptr;
  for (const auto& [name, child] : module.children()) {
    collect_convs(*child, shape, out);
    if (sequential) shape = child->output_shape(shape);
  }
}

// The double reference of one convolution: y = conv(x, w) and, for the output gradient gy,
// dx and dw, by the definition (zero padding, stride, dilation, groups).
struct Reference {
  std::vector<double> y, dx, dw;
};
Reference reference_conv(const Conv2dOptions& o, const Shape& in, const float* x, const float* w,
                         const float* gy, const Shape& out) {
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3], O = out[1], OH = out[2], OW = out[3];
  const int64_t Cg = C / o.groups, Og = O / o.groups, KH = o.kernel_size.first,
                KW = o.kernel_size.second;
  Reference r{std::vector<double>(N * O * OH * OW, 0.0), std::vector<double>(N * C * H * W, 0.0),
              std::vector<double>(O * Cg * KH * KW, 0.0)};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t ki = 0; ki < KH; ++ki)
          for (int64_t kj = 0; kj < KW; ++kj) {
            const int64_t ic = (oc / Og) * Cg + c, wi = ((oc * Cg + c) * KH + ki) * KW + kj;
            double dw = 0.0;
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * o.stride.first - o.padding.first + ki * o.dilation.first;
              if (ih < 0 || ih >= H) continue;
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t iw = ow * o.stride.second - o.padding.second + kj * o.dilation.second;
                if (iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + ic) * H + ih) * W + iw,
                              yi = ((n * O + oc) * OH + oh) * OW + ow;
                r.y[yi] += static_cast<double>(x[xi]) * w[wi];
                r.dx[xi] += static_cast<double>(gy[yi]) * w[wi];
                dw += static_cast<double>(gy[yi]) * x[xi];
              }
            }
            r.dw[wi] += dw;
          }
  return r;
}

double relative_error(const Tensor& value, const std::vector<double>& reference) {
  const Tensor v = value.contiguous();
  double diff = 0.0, norm = 0.0;
  for (int64_t i = 0; i < v.numel(); ++i) {
    const double d = v.data()[i] - reference[i];
    diff += d * d;
    norm += reference[i] * reference[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

std::string algorithm_name(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::kWinograd:
      return "winograd";
    case ConvAlgorithm::kDirect:
      return "direct";
    case ConvAlgorithm::kIm2col:
      return "im2col";
    case ConvAlgorithm::kOnednn:
      return "onednn";
    case ConvAlgorithm::kAuto:
      break;
  }
  return "auto";
}

// The paths that really run this layer when forced (a forced path that falls back to
// im2col is im2col's row, not its own; in bf16 every one is oneDNN's or im2col).
std::vector<ConvAlgorithm> paths_for(const Conv2dOptions& o, const Shape& input) {
  std::vector<ConvAlgorithm> paths;
  for (ConvAlgorithm wanted : {ConvAlgorithm::kWinograd, ConvAlgorithm::kDirect,
                               ConvAlgorithm::kIm2col, ConvAlgorithm::kOnednn}) {
    Conv2dOptions forced = o;
    forced.algorithm = wanted;
    const ConvAlgorithm runs = conv2d_algorithm(input, forced);
    if (std::find(paths.begin(), paths.end(), runs) == paths.end()) paths.push_back(runs);
  }
  return paths;
}

}  // namespace

std::vector<ConvPathError> measure_conv_numerics(const Sequential& model, const Shape& input,
                                                 int64_t images) {
  std::vector<ConvCase> cases;
  Shape shape = input;
  shape[0] = images;
  collect_convs(const_cast<Sequential&>(model), shape, cases);
  std::vector<ConvPathError> errors;
  std::set<std::string> seen;
  Generator generator(1234);
  for (const ConvCase& c : cases) {
    const Conv2dOptions& o = c.conv->options();
    std::ostringstream name;  // "16->16 3x3 s1 g1 on [4, 16, 32, 32]"
    name << o.in_channels << "->" << o.out_channels << " " << o.kernel_size.first << "x"
         << o.kernel_size.second << " s" << o.stride.first << " g" << o.groups << " on "
         << shape_str(c.input);
    if (!seen.insert(name.str()).second) continue;  // the same layer shape again
    const Tensor x = o.in_channels <= 3 ? randn(c.input, generator) : rand(c.input, generator);
    const Tensor w = c.conv->weight().detach().contiguous();
    const Shape out = c.conv->output_shape(c.input);
    const Tensor gy = randn(out, generator);
    const Reference ref = reference_conv(o, c.input, x.data(), w.data(), gy.data(), out);
    for (ConvAlgorithm path : paths_for(o, c.input)) {
      Conv2dOptions options = o;
      options.algorithm = path;
      Tensor xg = x.clone(), wg = w.clone();
      xg.set_requires_grad(true);
      wg.set_requires_grad(true);
      const Tensor y = conv2d(xg, wg, Tensor(), options);
      sum(mul(y, gy)).backward();  // the gradient reaching y is gy exactly
      // The backward is the forward's path, but for the direct kernel's (im2col's).
      const std::string backward =
          algorithm_name(path == ConvAlgorithm::kDirect ? ConvAlgorithm::kIm2col : path);
      errors.push_back({name.str(), algorithm_name(path), backward, relative_error(y, ref.y),
                        relative_error(xg.grad(), ref.dx), relative_error(wg.grad(), ref.dw)});
    }
  }
  return errors;
}

void print_conv_numerics(const std::vector<ConvPathError>& errors) {
  std::printf("\nconvolution numerics: relative L2 error against a double reference\n");
  std::printf("  %-36s %-9s %-9s %9s %9s %9s\n", "conv (input)", "forward", "backward", "output",
              "input gr", "weight gr");
  for (const ConvPathError& e : errors)
    std::printf("  %-36s %-9s %-9s %9.1e %9.1e %9.1e\n", e.layer.c_str(), e.algorithm.c_str(),
                e.backward.c_str(), e.forward, e.input_grad, e.weight_grad);
}

nlohmann::ordered_json conv_numerics_json(const std::vector<ConvPathError>& errors) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const ConvPathError& e : errors)
    rows.push_back({{"layer", e.layer},
                    {"algorithm", e.algorithm},
                    {"backward", e.backward},
                    {"forward", e.forward},
                    {"input_grad", e.input_grad},
                    {"weight_grad", e.weight_grad}});
  return rows;
}

}  // namespace cnn
