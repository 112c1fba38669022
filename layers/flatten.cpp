// Flatten is a reshape (core/ops.h), so its gradient is the reshape's.
#include "layers/flatten.h"

#include "core/ops.h"
#include "layers/registry.h"

namespace cnn {

Flatten::Flatten(int64_t start_dim, int64_t end_dim) : start_dim_(start_dim), end_dim_(end_dim) {}

Tensor Flatten::forward(const Tensor& input) { return reshape(input, output_shape(input.shape())); }

Shape Flatten::output_shape(const Shape& input) const {
  const int64_t dims = static_cast<int64_t>(input.size());
  const int64_t start = start_dim_ < 0 ? start_dim_ + dims : start_dim_;
  const int64_t end = end_dim_ < 0 ? end_dim_ + dims : end_dim_;
  CNN_CHECK(start >= 0 && end < dims && start <= end, describe(), ": dimensions ", start_dim_,
            "..", end_dim_, " do not fit an input ", shape_str(input));
  Shape out(input.begin(), input.begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d)
    CNN_CHECK(!__builtin_mul_overflow(merged, input[d], &merged), describe(),
              ": the merged size of input ", shape_str(input), " overflows int64");
  out.push_back(merged);
  out.insert(out.end(), input.begin() + end + 1, input.end());
  return out;
}

std::string Flatten::describe() const {
  return "flatten(start_dim=" + std::to_string(start_dim_) +
         ", end_dim=" + std::to_string(end_dim_) + ")";
}

namespace {
CNNLAB_REGISTER_LAYER(LayerInfo{
    "flatten",
    "merge dimensions start_dim..end_dim: [N, C, H, W] -> [N, C*H*W]",
    {{"start_dim", "1", "first dimension to merge"}, {"end_dim", "-1", "last dimension to merge"}},
    [](const LayerArgs& args, BuildContext&) -> ModulePtr {
      return std::make_shared<Flatten>(args.get_int("start_dim"), args.get_int("end_dim"));
    }});
}  // namespace

}  // namespace cnn
