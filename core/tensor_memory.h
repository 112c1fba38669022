// Where tensor buffers come from: glibc's heap for everything up to 32 MiB (kept in the
// heap after free), and a small pool of reused blocks above that.
#pragma once

#include <cstddef>

namespace cnn {

// 64-byte aligned, at least `bytes` (never null: throws cnn::Error when out of memory).
void* allocate_tensor_memory(size_t bytes);
// Gives back a block from allocate_tensor_memory with the same `bytes`.
void release_tensor_memory(void* block, size_t bytes);

// Bytes of tensor memory handed out and not yet given back: now, and the most since the
// last reset (torch.cuda.max_memory_allocated's role; bench reports it for a training step).
size_t tensor_memory_in_use();
size_t tensor_memory_peak();
void reset_tensor_memory_peak();

}  // namespace cnn
