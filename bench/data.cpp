// Data pipeline benchmark: seconds to prepare one epoch of CIFAR-10 training batches
// (50,000 images, random crop + flip + normalize, batch 128) on one core, the figure the
// loader must keep well under an epoch of training. Reads $CIFAR10_DIR (or data.root's
// fallbacks); with no copy found it times random pixels of the same shape.
//
//   CIFAR10_DIR=../shared/data/cifar-10-batches-bin ./build/bench_data
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "data/cifar10.h"
#include "data/loader.h"

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

int main() {
  omp_set_num_threads(1);  // one core: the loader's work is single-threaded by design
  cnn::ImageDataset train;
  auto start = std::chrono::steady_clock::now();
  try {
    train = cnn::load_cifar10(cnn::resolve_cifar10_root(""), true);
    std::printf("load CIFAR-10 training set (%lld images): %.3f s\n",
                static_cast<long long>(train.size()), seconds_since(start));
  } catch (const cnn::Error& e) {
    std::printf("no CIFAR-10 copy (%s)\nusing 50,000 random 3x32x32 images instead\n", e.what());
    train.images.resize(50000ull * 3072);
    std::mt19937 random(0);
    for (auto& v : train.images) v = static_cast<uint8_t>(random());
    train.labels.assign(50000, 0);
    train.classes = {"random"};
  }

  cnn::LoaderOptions options;
  options.batch_size = 128;
  options.augment.random_crop = true;
  options.augment.hflip = true;
  options.normalization = cnn::cifar10_normalization();

  for (bool prefetch : {false, true}) {
    options.prefetch = prefetch;
    cnn::DataLoader loader(train, options, 0);
    for (int epoch = 0; epoch < 3; ++epoch) {
      start = std::chrono::steady_clock::now();
      loader.begin_epoch(epoch);
      int64_t images = 0;
      double checksum = 0;
      while (auto batch = loader.next()) {
        images += batch->images.size(0);
        checksum += batch->images.data()[0];
      }
      std::printf(
          "epoch %d, %s: %lld images in %zu-image batches, crop+flip+normalize: %.3f s "
          "(checksum %.3f)\n",
          epoch, prefetch ? "prefetch thread" : "caller thread ", static_cast<long long>(images),
          static_cast<size_t>(options.batch_size), seconds_since(start), checksum);
    }
  }
  return 0;
}
