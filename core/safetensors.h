// The safetensors checkpoint format (https://github.com/huggingface/safetensors), the one
// PyTorch users load with safetensors.torch.load_file:
//
//   [8 bytes: header length N, little-endian u64]
//   [N bytes: JSON {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3],
//                    "data_offsets": [begin, end]}, ...}, padded with spaces to a multiple of 8]
//   [data: each tensor's bytes, little-endian, row-major, at [begin, end) of this section]
//
// cnnlab writes and reads F32 and I64 tensors only, and the reader is strict: a file that is
// not exactly well-formed is refused with an error naming the file and the tensor.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace cnn {


struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in the order of their data offsets
  std::map<std::string, std::string> metadata;
};

// Writes the tensors (in the given order) atomically, through write_file_atomically.
// Names must be unique, non-empty and not "__metadata__".
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The exact bytes save_safetensors writes.
std::string serialize_safetensors(const std::vector<NamedTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

SafetensorsFile load_safetensors(const std::string& path);

// Parses the bytes of a safetensors file; `source` names it in error messages. Never reads
// outside `bytes`, whatever they hold (this is the entry point the fuzzer drives).
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);

// Largest header accepted, as in the reference implementation: a larger one is corrupt.
constexpr size_t kSafetensorsMaxHeaderBytes = 100u * 1024 * 1024;

}  // namespace cnn
