// The dashboard's files (apps/dashboard/: HTML, JavaScript, CSS), embedded into the program
// at build time by apps/dashboard/embed.cmake, so `cnnlab serve` needs no files beside it
// and can serve nothing but these.
#pragma once

#include <cstddef>
#include <vector>

namespace cnn {

struct DashboardAsset {
  const char* name;  // file name in apps/dashboard/, e.g. "app.js"
  const unsigned char* data;
  size_t size;
};

const std::vector<DashboardAsset>& dashboard_assets();

}  // namespace cnn
