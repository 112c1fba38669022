// Tensor memory (see tensor_memory.h).
//
// A training step frees and allocates the same large buffers every step. By default glibc
// serves blocks over 128 KiB-32 MiB with fresh mmap()s and returns the top of the heap to
// the kernel, so each step would fault in (and zero) every activation's pages again: ~5%
// of a vgg6 step at batch 128. Kept in the heap instead (mallopt below), freed blocks are
// reused as they are. glibc maps blocks over 32 MiB (its largest threshold) one by one
// whatever the setting: those are pooled here, by size, and reused by the next allocation
// of the same size (a first-layer output of vgg6 at batch 256 is 32 MiB: its 8192 page
// faults took longer than the convolution).
#include "core/tensor_memory.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>

#include <cstdlib>
#include <map>
#include <mutex>

#include "core/error.h"

namespace cnn {

namespace {

const bool heap_keeps_large_blocks = [] {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}();

constexpr size_t kPooledFrom = size_t{32} << 20;  // blocks glibc would map one by one
constexpr size_t kPoolGranule = size_t{1} << 20;  // sizes rounded up to 1 MiB
constexpr size_t kPoolCapacity = size_t{2} << 30;  // at most 2 GiB kept unused

class LargeBlockPool {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_.find(bytes);
    if (found == free_.end()) return nullptr;
    void* block = found->second;
    free_.erase(found);
    cached_ -= bytes;
    return block;
  }
  bool keep(void* block, size_t bytes) {  // false: the caller frees it
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > kPoolCapacity) return false;
    free_.emplace(bytes, block);
    cached_ += bytes;
    return true;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // by size
  size_t cached_ = 0;
};

// Never destroyed: tensors freed during static destruction still find it.
LargeBlockPool& pool() {
  static auto* instance = new LargeBlockPool;
  return *instance;
}

size_t rounded_size(size_t bytes) {
  // aligned_alloc needs a multiple of the alignment; never allocate 0 bytes.
  const size_t granule = bytes >= kPooledFrom ? kPoolGranule : 64;
  return std::max<size_t>(64, (bytes + granule - 1) / granule * granule);
}

std::atomic<size_t> in_use{0}, peak{0};

void count_taken(size_t bytes) {
  const size_t now = in_use.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  size_t seen = peak.load(std::memory_order_relaxed);
  while (now > seen && !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

size_t tensor_memory_in_use() { return in_use.load(std::memory_order_relaxed); }
size_t tensor_memory_peak() { return peak.load(std::memory_order_relaxed); }
void reset_tensor_memory_peak() { peak.store(tensor_memory_in_use(), std::memory_order_relaxed); }

void* allocate_tensor_memory(size_t bytes) {
  const size_t size = rounded_size(bytes);
  void* block = size >= kPooledFrom ? pool().take(size) : nullptr;
  if (!block) block = std::aligned_alloc(64, size);
  if (!block) CNN_FAIL("out of memory allocating ", bytes, " bytes for a tensor");
  count_taken(size);
  return block;
}

void release_tensor_memory(void* block, size_t bytes) {
  const size_t size = rounded_size(bytes);
  in_use.fetch_sub(size, std::memory_order_relaxed);
  if (size >= kPooledFrom && pool().keep(block, size)) return;
  std::free(block);
}

}  // namespace cnn
