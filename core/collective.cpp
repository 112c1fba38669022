// The installed collective (see collective.h).
#include "core/collective.h"

#include <utility>

#include "core/error.h"

namespace cnn {

namespace {
AllreduceSumFn& installed() {
  static AllreduceSumFn sum;
  return sum;
}
int world = 1;
}  // namespace

void set_collective(AllreduceSumFn sum, int world_size) {
  installed() = std::move(sum);
  world = installed() ? world_size : 1;
}

bool collective_active() { return installed() && world > 1; }

int collective_world_size() { return world; }

void allreduce_sum(double* data, int64_t count) {
  CNN_CHECK(installed(), "allreduce_sum: no collective is installed (a single process)");
  installed()(data, count);
}

}  // namespace cnn
