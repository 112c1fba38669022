// The blocked transpose against the definition, over sizes around the 8x8 block (full
// blocks, edges of every width, strides wider than the rows), storing and adding.
#include <catch2/catch.hpp>

#include <vector>

#include "core/transpose.h"

TEST_CASE("transpose and transpose_add match the definition", "[transpose]") {
  for (int64_t rows : {1, 7, 8, 9, 16, 21})
    for (int64_t cols : {1, 5, 8, 15, 24}) {
      INFO("rows " << rows << " cols " << cols);
      const int64_t src_stride = cols + 3, dst_stride = rows + 2;
      std::vector<float> src(rows * src_stride), dst(cols * dst_stride, -1.0f);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) * 0.5f;
      std::vector<float> added(dst.size(), 2.0f);
      cnn::transpose(src.data(), src_stride, rows, cols, dst.data(), dst_stride);
      cnn::transpose_add(src.data(), src_stride, rows, cols, added.data(), dst_stride);
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t k = 0; k < dst_stride; ++k) {
          const float expected = k < rows ? src[k * src_stride + j] : -1.0f;  // padding kept
          REQUIRE(dst[j * dst_stride + k] == expected);
          REQUIRE(added[j * dst_stride + k] == (k < rows ? expected + 2.0f : 2.0f));
        }
    }
}
