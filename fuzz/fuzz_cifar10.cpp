// libFuzzer target: the CIFAR-10 binary reader (load_cifar10 on the test split), which takes a
// folder. The input is split into batches.meta.txt (the class names) and test_batch.bin:
//   [2 bytes: n, little-endian] [n bytes: batches.meta.txt] [rest: test_batch.bin]
// The first byte past the header also picks a record limit (0 = all, else 1-3), so the
// limited read path is covered. cnn::Error is a clean rejection; anything else is a finding.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "data/cifar10.h"
#include "fuzz/fuzz_temp_dir.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // the missing-class-names warning, every input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 3) return 0;
  const size_t meta_size = std::min<size_t>(data[0] | (data[1] << 8), size - 3);
  const int64_t limit = data[2] % 4;
  const uint8_t* meta = data + 3;
  const uint8_t* batch = meta + meta_size;
  const size_t batch_size = size - 3 - meta_size;

  const fs::path root = cnn::fuzzing::scratch_dir() / "cifar10";
  cnn::fuzzing::write_bytes(root / "batches.meta.txt", meta, meta_size);
  cnn::fuzzing::write_bytes(root / "test_batch.bin", batch, batch_size);
  try {
    cnn::ImageDataset dataset = cnn::load_cifar10(root.string(), /*train=*/false, limit);
    // What the reader accepted must be self-consistent: the loader indexes with these.
    const size_t n = dataset.labels.size();
    if (dataset.images.size() != n * static_cast<size_t>(dataset.image_numel())) std::abort();
    if (dataset.classes.size() != cnn::kCifar10Classes) std::abort();
    for (int64_t label : dataset.labels)
      if (label < 0 || label >= cnn::kCifar10Classes) std::abort();
    if (limit > 0 && static_cast<int64_t>(n) > limit) std::abort();
  } catch (const cnn::Error&) {
  }
  return 0;
}
