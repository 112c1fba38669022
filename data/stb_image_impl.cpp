// The one translation unit that compiles stb_image and stb_image_resize (header-only
// libraries from Debian's libstb-dev). Only the formats cnnlab reads are enabled.
#include <cstdlib>
#include <cstring>

// stb_image copies 0 bytes to a null buffer when a PNG's first IDAT chunk is empty (found by
// fuzz/fuzz_image_decode.cpp; UBSan: null argument to memcpy). Harmless in practice, but
// undefined: its memcpy calls go through one that skips empty copies.
static inline void* stb_memcpy_nonempty(void* target, const void* source, size_t bytes) {
  return bytes ? std::memcpy(target, source, bytes) : target;
}
#define memcpy stb_memcpy_nonempty

// stb_image v2.27 allocates its JPEG decoder state with malloc and never clears it: a scan
// that uses a Huffman table no DHT segment defined decodes with uninitialised tables and
// indexes them out of bounds (fuzz_image_decode; UBSan: index -22 out of bounds for
// 'stbi_uc[256]'; without NDEBUG, stb's own code-table assert). Zeroed allocations make an
// undefined table an empty one: wrong pixels of a broken file, nothing undefined.
#define STBI_MALLOC(bytes) std::calloc(1, bytes)
#define STBI_REALLOC(pointer, bytes) std::realloc(pointer, bytes)
#define STBI_FREE(pointer) std::free(pointer)

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
