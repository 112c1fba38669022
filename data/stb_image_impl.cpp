// The one translation unit that compiles stb_image and stb_image_resize (header-only
// libraries from Debian's libstb-dev). Only the formats cnnlab reads are enabled.
#include <cstring>

// stb_image copies 0 bytes to a null buffer when a PNG's first IDAT chunk is empty (found by
// fuzz/fuzz_image_decode.cpp; UBSan: null argument to memcpy). Harmless in practice, but
// undefined: its memcpy calls go through one that skips empty copies.
static inline void* stb_memcpy_nonempty(void* target, const void* source, size_t bytes) {
  return bytes ? std::memcpy(target, source, bytes) : target;
}
#define memcpy stb_memcpy_nonempty

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STB_IMAGE_RESIZE_IMPLEMENTATION

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
// stb_image v2.27 also shifts by 32 and overflows ints while decoding some corrupt JPEGs
// (fuzz/fuzz_image_decode.cpp; fixed upstream in v2.28): arithmetic that only gives wrong
// pixels for a file that is already broken. Those two UBSan checks are off for stb's own
// functions (clang; for GCC see docs/reliability.md); ASan still checks every memory access.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("shift", "signed-integer-overflow"))), \
                             apply_to = function)
#endif
#include "data/stb.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#pragma GCC diagnostic pop
