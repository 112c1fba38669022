// Registers `identity` (no keys).
#include "layers/identity.h"

#include "layers/registry.h"

namespace cnn {

CNNLAB_REGISTER_LAYER(LayerInfo{
    "identity",
    "passes its input through unchanged (a placeholder that keeps layer indices)",
    {},
    [](const LayerArgs&, BuildContext&) -> ModulePtr { return std::make_shared<Identity>(); },
    false});

}  // namespace cnn
