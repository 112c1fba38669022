// libFuzzer target: the safetensors reader on arbitrary bytes. A cnn::Error is a clean
// rejection; anything else (a sanitizer report, another exception, an abort) is a finding.
// A file that parses must also survive a round trip: written back and read again, it
// gives the same names, dtypes, shapes, bytes and metadata.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/safetensors.h"

namespace {

bool same_tensor(const cnn::Tensor& a, const cnn::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.numel() == 0) return true;
  const size_t bytes = static_cast<size_t>(a.numel()) * cnn::dtype_size(a.dtype());
  const void* pa = a.dtype() == cnn::DType::Float32 ? static_cast<const void*>(a.data())
                                                    : static_cast<const void*>(a.data_i64());
  const void* pb = b.dtype() == cnn::DType::Float32 ? static_cast<const void*>(b.data())
                                                    : static_cast<const void*>(b.data_i64());
  return std::memcmp(pa, pb, bytes) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  cnn::SafetensorsFile file;
  try {
    file = cnn::parse_safetensors(bytes, "fuzz input");
  } catch (const cnn::Error&) {
    return 0;
  }
  // Accepted: the writer must reproduce it faithfully.
  std::string written = cnn::serialize_safetensors(file.tensors, file.metadata);
  cnn::SafetensorsFile again = cnn::parse_safetensors(written, "round trip");
  if (again.metadata != file.metadata || again.tensors.size() != file.tensors.size()) std::abort();
  for (size_t i = 0; i < file.tensors.size(); ++i)
    if (again.tensors[i].first != file.tensors[i].first ||
        !same_tensor(again.tensors[i].second, file.tensors[i].second))
      std::abort();
  return 0;
}
