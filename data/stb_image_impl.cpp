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
#include "data/stb.h"
#pragma GCC diagnostic pop
