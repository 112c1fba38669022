// Training never waits on the store and loses nothing: a run against the fixture's MariaDB
// whose server is stopped mid-run and started again ends with every step's row in the store
// exactly once and the status completed; `cnnlab runs sync` pushes a spool left behind; an
// unreachable store at start is an error naming the URL, or with --store-optional a warning.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "apps/run_store.h"
#include "apps/store_spool.h"
#include "tests/apps/cnnlab_process.h"
#include "tests/store/store_backends.h"

using namespace cnn;
using Catch::Contains;

namespace {

void fixture(const std::string& action) {
  const std::string command = std::string("bash ") + CNNLAB_SOURCE_DIR +
                              "/tests/store/mariadb_fixture.sh " + action + " " +
                              CNNLAB_BINARY_DIR + "/mariadb > /dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
}

int64_t count(RunStore& store, const std::string& sql) {
  return std::stoll(*store.query(sql).rows.at(0).at(0));
}

}  // namespace

TEST_CASE("a run whose MariaDB server stops mid-run keeps every step exactly once",
          "[store][outage]") {
  const std::string binary = cnn::apptest::cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TestStore test("mariadb");
  if (!test.skipped.empty()) {
    WARN("MariaDB store test skipped: " << test.skipped);
    return;
  }
  cnn::apptest::write_tiny_cifar10(test.folder / "data", 400, 16);
  cnn::apptest::write_text(test.folder / "run.yaml",
                           cnn::apptest::tiny_config(test.folder / "data", 400, 6));
  const std::string run_dir = test.folder / "run";
  cnn::apptest::CnnlabProcess run(binary, {"train", "--config", test.folder / "run.yaml", "--out",
                                           run_dir, "--store", test.url});
  REQUIRE(run.wait_for_output("step 2/", 60000));
  {
    RunStore store(test.url);
    for (int i = 0; i < 300 && count(store, "SELECT COUNT(*) FROM metrics") == 0; ++i)
      run.read_for_ms(100);
    REQUIRE(count(store, "SELECT COUNT(*) FROM metrics") > 0);
  }
  fixture("stop");
  run.read_for_ms(2500);  // training goes on: its writes fail and are spooled
  fixture("start");
  cnn::apptest::ExitStatus status = run.wait(300000);
  INFO(run.output());
  REQUIRE(status.exited);
  REQUIRE(status.code == 0);
  CHECK_THAT(run.output(), Contains("spooling in"));
  RunStore store(test.url);
  std::vector<RunRow> runs = store.runs();
  REQUIRE(runs.size() == 1);
  REQUIRE(runs[0].status == "completed");
  const int64_t steps = 6 * 400 / 8;
  REQUIRE(count(store, "SELECT COUNT(*) FROM metrics WHERE name = 'loss'") == steps);
  REQUIRE(count(store, "SELECT COUNT(DISTINCT step) FROM metrics") == steps);
  REQUIRE(count(store, "SELECT MAX(step) FROM metrics") == steps - 1);
  REQUIRE(store.epochs(runs[0].id).size() == 6);
  REQUIRE(store.checkpoints(runs[0].id).size() >= 6);
  REQUIRE(!std::filesystem::exists(std::filesystem::path(run_dir) / kStoreSpoolFile));
}

TEST_CASE(
    "an unreachable store stops a run at start, or with --store-optional is spooled "
    "and synced later",
    "[store][outage]") {
  const std::string binary = cnn::apptest::cnnlab_binary();
  if (binary.empty()) return;
  STORE_BACKEND(test);
  cnn::apptest::write_tiny_cifar10(test.folder / "data", 32, 16);
  cnn::apptest::write_text(test.folder / "run.yaml",
                           cnn::apptest::tiny_config(test.folder / "data", 32, 1));
  // Nothing listens on port 1; the password never reaches the output.
  ::setenv("CNNLAB_STORE_PASSWORD", "never-printed", 1);
  const std::string away = "mysql://cnnlab@127.0.0.1:1/cnnlab";
  ::setenv("CNNLAB_STORE_FLUSH_SECONDS", "0", 1);
  cnn::apptest::CnnlabProcess refused(binary, {"train", "--config", test.folder / "run.yaml",
                                               "--out", test.folder / "a", "--store", away});
  cnn::apptest::ExitStatus first = refused.wait(120000);
  CHECK(first.code != 0);
  CHECK_THAT(refused.output(),
             Contains("cannot open the run store '" + away + "'") && !Contains("never-printed"));
  const std::string run_dir = test.folder / "b";
  cnn::apptest::CnnlabProcess spooled(
      binary, {"train", "--config", test.folder / "run.yaml", "--out", run_dir, "--store", away,
               "--store-optional"});
  cnn::apptest::ExitStatus second = spooled.wait(120000);
  ::unsetenv("CNNLAB_STORE_FLUSH_SECONDS");
  INFO(spooled.output());
  REQUIRE(second.code == 0);
  CHECK_THAT(spooled.output(), Contains("cnnlab runs sync " + run_dir));
  REQUIRE(std::filesystem::exists(std::filesystem::path(run_dir) / kStoreSpoolFile));
  if (test.backend == "mariadb")
    ::setenv("CNNLAB_STORE_PASSWORD", cnn::testing::fixture_file("password").c_str(), 1);
  for (int pass = 0; pass < 2; ++pass) {  // the second: nothing left, nothing doubled
    cnn::apptest::CnnlabProcess sync(binary, {"runs", "sync", run_dir, "--store", test.url});
    REQUIRE(sync.wait(60000).code == 0);
  }
  RunStore store(test.url);
  REQUIRE(store.runs().size() == 1);
  REQUIRE(store.runs()[0].status == "completed");
  REQUIRE(count(store, "SELECT COUNT(*) FROM metrics WHERE name = 'loss'") == 4);
  REQUIRE(!std::filesystem::exists(std::filesystem::path(run_dir) / kStoreSpoolFile));
}
