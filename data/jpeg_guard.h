// A check run on JPEG bytes before stb_image decodes them. stb_image v2.27 (Debian 12's
// libstb) writes past its Huffman tables when a DHT segment declares more than 256 codes
// (fixed upstream in v2.28); the fuzzer (fuzz/fuzz_image_decode.cpp) found it. This walks the
// markers exactly as stb_image's decoder reaches them and refuses such a table first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cnn {

// "" when stb_image may decode `bytes` safely (including every non-JPEG file), else why not.
std::string jpeg_huffman_problem(const uint8_t* bytes, size_t size);

}  // namespace cnn
