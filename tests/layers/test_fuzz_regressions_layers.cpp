// Layer shapes that overflow int64, found by replaying huge values through the config fuzzer
// (fuzz/fuzz_config.cpp; UBSan: signed integer overflow in Flatten::output_shape and in
// conv2d's geometry checks). Each is now an error naming the layer and the shape.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/random.h"
#include "layers/builder.h"
#include "layers/flatten.h"

using namespace cnn;
using Catch::Contains;

TEST_CASE("Flatten refuses a merged size that overflows int64", "[layers][fuzz]") {
  const int64_t huge = int64_t{1} << 62;
  Flatten flatten;
  CHECK_THROWS_WITH(flatten.output_shape({2, huge, 4}),
                    Contains("flatten(start_dim=1, end_dim=-1)") && Contains("overflows int64"));
  CHECK(flatten.output_shape({2, huge, 1}) == Shape{2, huge});
  Flatten inner(1, 2);
  CHECK_THROWS_AS(inner.output_shape({2, 8, huge, 3}), Error);
}

TEST_CASE("A model whose flattened size overflows is a build error naming the layer",
          "[layers][fuzz]") {
  Generator generator(0);
  YAML::Node model =
      YAML::Load("{norm: none, layers: [{flatten: {}}, {linear: {out_features: 2}}]}");
  const int64_t huge = int64_t{1} << 40;
  try {
    build_model(model, {1, 3, huge, huge}, generator, "model");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Contains("model.layers[0]") && Contains("overflows int64"));
  }
}

TEST_CASE("conv2d refuses a kernel extent or padding that overflows int64", "[layers][fuzz]") {
  Generator generator(0);
  // 2^62: the dilated extent dilation * (kernel_size - 1) + 1 or the padded size 2 * padding
  // + H wraps around; before the fix the wrapped sizes reached the output-size arithmetic.
  for (const char* conv :
       {"{out_channels: 2, kernel_size: 3, dilation: 4611686018427387904}",
        "{out_channels: 2, kernel_size: 3, padding: 4611686018427387904}",
        "{out_channels: 2, kernel_size: [1, 3], dilation: [1, 9223372036854775807]}"}) {
    INFO(conv);
    YAML::Node model = YAML::Load(std::string("{norm: none, layers: [{conv2d: ") + conv + "}]}");
    try {
      build_model(model, {1, 3, 8, 8}, generator, "model");
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK_THAT(std::string(e.what()), Contains("model.layers[0]") && Contains("overflow int64"));
    }
  }
}
