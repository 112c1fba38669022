// The `norm` layer type: a placeholder that becomes, at build time, the normalization the
// model-level `norm` key names (batch | group | layer | instance | none), so one config
// compares normalizations by changing one word. Each key goes to the chosen layer where
// it applies and is ignored where it does not (num_groups for batch norm, frozen for
// group norm, ...).
#include "layers/batchnorm.h"
#include "layers/groupnorm.h"
#include "layers/identity.h"
#include "layers/instancenorm.h"
#include "layers/layernorm.h"
#include "layers/registry.h"

namespace cnn {

namespace {

// The norm's keys read as the chosen layer's: its key spec gives the defaults, and the keys
// it does not have (num_groups for batch norm) are not read.
LayerArgs as_layer(const LayerArgs& args, const std::string& type) {
  return LayerArgs(args.node(), args.path(), find_layer(type)->keys);
}

ModulePtr make_norm(const LayerArgs& args, BuildContext& context) {
  const Shape& in = context.input_shape;
  const std::string& norm = context.norm;
  if (norm == "none") return std::make_shared<Identity>();
  CNN_CHECK(in.size() >= 2, "norm: expected an input [N, C, ...], found ", shape_str(in));
  const int64_t channels = in[1];
  if (norm == "batch" || norm == "syncbatch") {
    BatchNormOptions options = batchnorm_options(as_layer(args, "batchnorm2d"), channels);
    options.sync = norm == "syncbatch";
    if (in.size() == 4) return std::make_shared<BatchNorm2d>(options);
    CNN_CHECK(in.size() <= 3,
              "norm (batch): expected [N, C, H, W], [N, C] or [N, C, L] input, "
              "found ",
              shape_str(in));
    return std::make_shared<BatchNorm1d>(options);
  }
  if (norm == "group")
    return std::make_shared<GroupNorm>(groupnorm_options(as_layer(args, "groupnorm"), channels));
  if (norm == "layer") {
    LayerNormOptions options;
    options.normalized_shape.assign(in.begin() + 1, in.end());
    options.eps = as_layer(args, "layernorm").get_float("eps");
    options.elementwise_affine = args.get_bool("affine", options.elementwise_affine);
    return std::make_shared<LayerNorm>(options);
  }
  if (norm == "instance") {
    CNN_CHECK(in.size() == 4,
              "norm (instance): instance normalization needs a map [N, C, H, W], "
              "but the input here is ",
              shape_str(in),
              "; use model norm: batch, group or "
              "layer, or an explicit layer type instead of `norm` at this place");
    return std::make_shared<InstanceNorm2d>(
        instancenorm_options(as_layer(args, "instancenorm2d"), channels));
  }
  CNN_FAIL("norm: unknown model norm '", norm,
           "' (expected batch, group, layer, instance or none)");
}

}  // namespace

// Not marked is_normalization: the builder decides from the model's `norm` whether this
// place normalises (none does not).
CNNLAB_REGISTER_LAYER(LayerInfo{
    "norm",
    "the model's normalization (model key norm: batch|group|layer|instance|none); none = identity",
    {{"eps", default_text(BatchNormOptions().eps), "all: added to the variance"},
     {"momentum", default_text(*BatchNormOptions().momentum),
      "batch, instance (with running stats): running-statistics update "
      "weight, PyTorch's convention; null = cumulative (batch only)"},
     {"affine",
      default_text(BatchNormOptions().affine) +
          " (instance: " + default_text(InstanceNormOptions().affine) + ")",
      "learnable weight and bias"},
     {"num_groups", default_text(GroupNormOptions().num_groups),
      "group: groups, lowered to the largest divisor of C"},
     {"track_running_stats",
      default_text(BatchNormOptions().track_running_stats) +
          " (instance: " + default_text(InstanceNormOptions().track_running_stats) + ")",
      "batch, instance: keep running statistics"},
     {"frozen", default_text(BatchNormOptions().frozen),
      "batch: always use and never update the running statistics"}},
    make_norm,
    false});

}  // namespace cnn
