// CIFAR-10 in its official binary layout (cifar-10-batches-bin): data_batch_1..5.bin,
// test_batch.bin, batches.meta.txt. Each record is 3,073 bytes: a label byte (0-9), then
// 1,024 red, 1,024 green and 1,024 blue bytes of a 32x32 image, row-major.
#pragma once

#include <string>

#include "data/dataset.h"

namespace cnn {

constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;
constexpr int64_t kCifar10Classes = 10;

// Appends the records of one batch file to `dataset` (at most `limit` of them, 0 = all).
// A missing file, a size that is not a whole number of records, or a label outside 0-9
// throws cnn::Error naming the file (and the record).
void read_cifar10_batch(const std::string& path, ImageDataset& dataset, int64_t limit = 0);

// The training split (data_batch_1..5.bin, in order) or the test split (test_batch.bin)
// under `root`, keeping the first `limit` images (0 = all). Class names come from
// batches.meta.txt, or the standard names with a warning when it is missing.
ImageDataset load_cifar10(const std::string& root, bool train, int64_t limit = 0);

// The folder to read CIFAR-10 from: the first of `configured_root` (data.root, when not
// empty), $CIFAR10_DIR, and data/cifar-10-batches-bin that holds data_batch_1.bin (a
// folder whose cifar-10-batches-bin/ subfolder holds it counts too). Falling back past a
// configured root logs a warning; when none holds it, the error lists every path tried.
std::string resolve_cifar10_root(const std::string& configured_root);

}  // namespace cnn
