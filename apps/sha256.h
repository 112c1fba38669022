// SHA-256 (FIPS 180-4) of a file, as 64 lowercase hex digits: the checksum of a checkpoint in
// the run store, the same `sha256sum` prints.
#pragma once

#include <string>

namespace cnn {

std::string sha256_file(const std::string& path);  // throws a sentence naming the file
std::string sha256_hex(const std::string& bytes);

}  // namespace cnn
