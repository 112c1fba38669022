// Conv2d: 2-D convolution as torch.nn.Conv2d (cross-correlation, zero padding, dilation,
// groups). Each call picks its kernel (core/) from the geometry: Winograd F(4x4,3x3) for
// 3x3 stride-1 layers, the direct kernel for few input channels or a stride, else im2col +
// one sgemm per group over a chunk of the batch (the backward is Winograd's or im2col's);
// in bf16, oneDNN's convolution primitives (core/conv_onednn.h).
//
// YAML (type `conv2d`): out_channels, kernel_size (int or [h, w]), stride=1, padding=0,
// dilation=1, groups=1, bias=auto. in_channels comes from the input shape. `bias: auto`
// drops the bias when the next layer is an active normalization (its shift makes it moot).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/conv_onednn.h"
#include "core/im2col.h"
#include "core/random.h"
#include "layers/module.h"

namespace cnn {

// The kernel a conv2d call runs (core/). kAuto picks from the geometry (choose_algorithm in
// conv2d.cpp); the others are the config's `model.conv_algorithm` forcing one path where
// it can run (Winograd: 3x3 stride 1, one group; direct: one group; oneDNN: where oneDNN
// has a non-reference kernel for the shape), im2col elsewhere.
enum class ConvAlgorithm { kAuto, kIm2col, kWinograd, kDirect, kOnednn };

// "auto" | "winograd" | "direct" | "im2col" | "onednn" -> the algorithm; throws naming
// `key_path`.
ConvAlgorithm conv_algorithm_from_name(const std::string& name, const std::string& key_path);
const std::vector<std::string>& conv_algorithm_names();

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  std::pair<int64_t, int64_t> kernel_size{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;
};

class Conv2d : public Module {
 public:
  // Checks the options (positive sizes, groups dividing both channel counts) and
  // initialises like PyTorch: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // fan_in = in_channels/groups * kh * kw, drawn from `generator` (weight first).
  Conv2d(const Conv2dOptions& options, Generator& generator);

  Tensor forward(const Tensor& input) override;  // [N,C,H,W] -> [N,O,OH,OW]
  // The fusion hooks (layers/module.h): the ReLU applied as the output is written, on
  // every kernel; and in evaluation, on the Winograd path, the 2x2 stride-2 max-pool after
  // it (the conv writes the pooled map) or a residual block's sum (max(y + residual, 0)).
  bool absorbs_relu() const override { return true; }
  Tensor forward_relu(const Tensor& input) override;
  Tensor forward_relu_max_pool2x2(const Tensor& input) override;
  Tensor forward_add_relu(const Tensor& input, const Tensor& residual) override;
  Shape output_shape(const Shape& input) const override;
  std::string type() const override { return "conv2d"; }
  std::string describe() const override;

  const Conv2dOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }  // [O, C/groups, kh, kw]
  Tensor& bias() { return bias_; }      // [O], undefined when the layer has none
  // Creates or replaces the bias (BN folding); it then appears as `bias` in the state dict.
  void set_bias(const Tensor& bias);

 private:
  Conv2dOptions options_;
  Tensor weight_;
  Tensor bias_;
};

// The differentiable function behind the layer. bias may be undefined.
//   input [N,C,H,W], weight [O,C/groups,kh,kw], bias [O] -> [N,O,OH,OW]
// then_relu applies max(y, 0) as the output is written (no separate pass over it).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options, bool then_relu = false);

// Evaluation only, the functions behind Conv2d's epilogue hooks: max_pool2d(relu(y),
// kernel 2, stride 2) and max(y + residual [N,O,OH,OW], 0), y = conv2d(input, ...), written
// by the Winograd kernel in one pass. An undefined tensor when a gradient is needed or the
// layer does not run as Winograd on this input (and for the pool, on an odd OH or OW; for
// the sum, a residual of another shape): the caller then runs the ops one by one.
Tensor conv2d_relu_max_pool2x2(const Tensor& input, const Tensor& weight, const Tensor& bias,
                               const Conv2dOptions& options);
Tensor conv2d_add_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                       const Conv2dOptions& options, const Tensor& residual);

// Whether conv2d runs as Winograd on an input of this [N,C,H,W] shape.
bool conv2d_runs_winograd(const Shape& input, const Conv2dOptions& options);
// The kernel conv2d runs on an input of this [N,C,H,W] shape, in the process's precision.
ConvAlgorithm conv2d_algorithm(const Shape& input, const Conv2dOptions& options);

// Evaluation, image by image: a conv2d's weights prepared once for a batch of this input
// shape [N,C,H,W] (Winograd's kernel transform), then run on one image at a time, e.g. from
// an OpenMP loop over the batch with OpenBLAS single-threaded (SingleThreadedBlas), so that
// a block's maps stay in cache between its layers (the basic-block step of layers/fusion.cpp
// does this).
class PreparedConv2d {
 public:
  PreparedConv2d(Conv2d& conv, const Shape& input);
  Shape image_output_shape() const;  // [O, OH, OW]
  bool adds_residual() const;        // whether run() takes a residual (the Winograd path)
  // x [C,H,W] -> y [O,OH,OW]: max(y, 0) with relu; with a residual [O,OH,OW] (only when
  // adds_residual()), max(y + residual, 0).
  void run(const float* x, bool relu, const float* residual, float* y) const;

 private:
  Conv2dOptions options_;
  ConvGeometry geometry_;
  Tensor weight_, bias_;
  ConvAlgorithm algorithm_ = ConvAlgorithm::kIm2col;
  OnednnConvShape onednn_;  // the kOnednn path's shape (batch 1)
  Tensor u_;                // Winograd's transformed kernels
};

}  // namespace cnn
