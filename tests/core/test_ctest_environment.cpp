// The environment ctest gives every test: one OpenMP and one OpenBLAS thread (tests run in
// parallel, and the thread counts are read when the libraries load, before main).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

namespace {
std::string env_or_unset(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "(unset)";
}
}  // namespace

TEST_CASE("ctest runs each test with one OpenMP and one OpenBLAS thread", "[ctest]") {
  // CNNLAB_CTEST is set beside the thread counts (tests/CMakeLists.txt), so a run of the
  // executable by hand, outside ctest, has nothing to check.
  if (std::getenv("CNNLAB_CTEST") == nullptr) {
    WARN("not run by ctest (CNNLAB_CTEST unset): the ctest environment is not checked");
    return;
  }
  CHECK(env_or_unset("OMP_NUM_THREADS") == "1");
  CHECK(env_or_unset("OPENBLAS_NUM_THREADS") == "1");
}
