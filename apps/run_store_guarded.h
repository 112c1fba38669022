// RunStore::guarded, shared by run_store.cpp (writes) and run_store_reads.cpp (reads).
#pragma once

#include <soci/soci.h>

#include "apps/run_store.h"
#include "core/error.h"

namespace cnn {

// Runs `body`, turning database errors into cnn::Error sentences that name the database.
template <typename Body>
auto RunStore::guarded(const char* action, Body&& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    return body();
  } catch (const soci::soci_error& error) {
    CNN_FAIL("run database '", database_, "': ", action, " failed: ", error.what());
  }
}

}  // namespace cnn
