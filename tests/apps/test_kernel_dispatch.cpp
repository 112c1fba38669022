// The kernel path as a user sees it: `cnnlab bench` prints it (text and JSON), train.log
// starts with it, and an OpenBLAS forced to an old core (OPENBLAS_CORETYPE=Prescott, read
// by OpenBLAS when it loads, so only a fresh process shows it) gets a warning while no
// product is routed to it.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "core/cpu_features.h"
#include "tests/apps/cnnlab_process.h"

using namespace cnn::apptest;
using Catch::Contains;

namespace {

// Sets an environment variable for the children started in this scope.
struct ScopedEnv {
  std::string name;
  explicit ScopedEnv(const std::string& n, const std::string& value) : name(n) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

struct TinySetup {
  ScratchFolder folder{"cnnlab_kernels"};
  std::string config = folder.path + "/tiny.yaml";
  TinySetup() {
    write_tiny_cifar10(folder.path + "/data", 16, 16);
    write_text(config, tiny_config(folder.path + "/data", 16, 1));
  }
};

}  // namespace

TEST_CASE("bench with OpenBLAS forced to Prescott warns and routes every product around it",
          "[apps][kernels]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  if (cnn::cpu_features().best < cnn::Isa::avx2) {
    WARN("skipped: this CPU has no AVX2, where OpenBLAS's Prescott core is not below it");
    return;
  }
  TinySetup setup;
  ScopedEnv core("OPENBLAS_CORETYPE", "Prescott");
  std::string output;
  ExitStatus status = run_cnnlab(
      binary, {"bench", "--config", setup.config, "--steps", "1", "--kernels", "--json"}, output);
  INFO(output);
  REQUIRE(status.exited);
  REQUIRE(status.code == 0);
  const nlohmann::json bench = nlohmann::json::parse(output.substr(output.find('{')));
  const std::string kernels = bench["kernels"];
  CHECK_THAT(kernels, Contains("OpenBLAS core Prescott (sse3, below the CPU"));
  CHECK_THAT(bench["kernel_warning"].get<std::string>(),
             Contains("OPENBLAS_CORETYPE=Prescott") && Contains("cnnlab routes around it"));
  REQUIRE(bench["gemm_shapes"].size() > 0);
  for (const auto& row : bench["gemm_shapes"]) {
    INFO(row.dump());
    CHECK(row["chosen"] != "openblas");
  }
  // The text form says the same, as a warning line.
  ExitStatus text = run_cnnlab(binary, {"bench", "--config", setup.config, "--steps", "1"}, output);
  REQUIRE(text.exited);
  CHECK(text.code == 0);
  CHECK_THAT(output,
             Contains("  kernels: ") && Contains("\n  warning: OpenBLAS runs its Prescott"));
}

TEST_CASE("train.log names the kernel path, and no warning with OpenBLAS's own choice here",
          "[apps][kernels]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  TinySetup setup;
  const std::string run_dir = setup.folder.path + "/run";
  std::string output;
  ExitStatus status =
      run_cnnlab(binary, {"train", "--config", setup.config, "--out", run_dir}, output);
  INFO(output);
  REQUIRE(status.exited);
  REQUIRE(status.code == 0);
  const std::string log = read_text(run_dir + "/train.log");
  CHECK_THAT(log, Contains("kernels: ") &&
                      Contains(std::string("gemm at ") + cnn::isa_name(cnn::cpu_features().best)));
  // ctest sets no OPENBLAS_CORETYPE; this machine kind's OpenBLAS picks an AVX-512 core
  // (Cooperlake on Zen 4), so nothing is below the CPU. Elsewhere the warning is expected.
  if (log.find("OpenBLAS core Prescott") == std::string::npos &&
      log.find("below the CPU") == std::string::npos)
    CHECK(log.find("OpenBLAS runs its") == std::string::npos);
}
