// `cnnlab bench`'s numerics table: every convolution path's relative error (forward output,
// input gradient, weight gradient) against a double-precision reference, on the model's
// own convolution shapes with a few images (docs/numerics.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/sequential.h"

namespace cnn {

struct ConvPathError {
  std::string layer;      // "16->16 3x3 s1 g1 on [4, 16, 32, 32]"
  std::string algorithm;  // winograd | direct | im2col: the forward's kernel
  std::string backward;   // the backward's kernel (direct's backward is im2col's)
  double forward = 0, input_grad = 0, weight_grad = 0;  // ||fp32 - double|| / ||double||
};

// For each distinct convolution of `model` (input [1, C, H, W]) and each path that can run
// it, the errors with `images` images: input uniform in [0, 1) (as after a ReLU; normal for
// a first layer on 3 channels), the layer's own weights, a normal output gradient.
std::vector<ConvPathError> measure_conv_numerics(const Sequential& model, const Shape& input,
                                                 int64_t images);

void print_conv_numerics(const std::vector<ConvPathError>& errors);
nlohmann::ordered_json conv_numerics_json(const std::vector<ConvPathError>& errors);

}  // namespace cnn
