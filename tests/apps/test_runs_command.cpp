// `cnnlab runs list|show|compare|query` against a store a real tiny experiment filled: the
// filters (experiment, status, any config key), a run named by id or directory name, the
// JSON of show, the comparison table, and queries that only read.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "apps/run_store.h"
#include "tests/apps/store_fixture.h"

using namespace cnn;
using namespace cnn::apptest;
using Catch::Contains;

namespace {

// `cnnlab runs ARGS... --store STORE`: its exit code, stdout (parsed as JSON by some checks,
// so kept apart) and stderr.
struct Runs {
  int code = -1;
  std::string output, errors;
};
Runs runs(const std::string& binary, const std::string& store, const std::vector<std::string>& args) {
  const std::string errors = store.substr(store.find(':') + 1) + ".stderr";  // beside the file
  std::string command = shell_quoted(binary) + " runs";
  for (const std::string& arg : args) command += " " + shell_quoted(arg);
  command += " --store " + shell_quoted(store) + " 2>" + shell_quoted(errors);
  const cnn::testing::CommandResult result = cnn::testing::run_command(command);
  return {result.status, result.output, cnn::testing::read_text(errors)};
}

bool has_row(const std::string& table, const std::string& name) {
  return table.find("| " + name + " |") != std::string::npos;
}

}  // namespace

TEST_CASE("runs list: every run as a table, filtered by experiment, status and config key",
          "[apps][runs]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_runs");
  const std::string store = fill_store(tmp);

  Runs all = runs(binary, store, {"list"});
  INFO(all.output << all.errors);
  REQUIRE(all.code == 0);
  CHECK_THAT(all.output, Contains("| id | name | experiment | variant | status | started | best acc |\n"
                                  "|---|---|---|---|---|---|---|\n"));
  for (const char* name : {"bn", "plain", "blowup"}) CHECK(has_row(all.output, name));
  CHECK_THAT(all.output, Contains("| norms |") && Contains("| completed |") && Contains("| diverged |"));

  Runs plain = runs(binary, store, {"list", "--where", "model.norm=none"});
  CHECK(plain.code == 0);
  CHECK(has_row(plain.output, "plain"));
  CHECK(has_row(plain.output, "blowup"));
  CHECK_FALSE(has_row(plain.output, "bn"));

  Runs both = runs(binary, store, {"list", "--where", "model.norm=none", "--where", "optim.lr=0.05"});
  CHECK(has_row(both.output, "plain"));
  CHECK_FALSE(has_row(both.output, "blowup"));

  Runs diverged = runs(binary, store, {"list", "--status", "diverged"});
  CHECK(has_row(diverged.output, "blowup"));
  CHECK_FALSE(has_row(diverged.output, "plain"));

  Runs experiment = runs(binary, store, {"list", "--experiment", "norms", "--status", "completed"});
  CHECK(has_row(experiment.output, "bn"));
  CHECK(has_row(experiment.output, "plain"));
  Runs none = runs(binary, store, {"list", "--experiment", "other"});
  CHECK(none.code == 0);
  CHECK_THAT(none.output, Contains("no runs match"));

  Runs bad = runs(binary, store, {"list", "--where", "model.norm"});
  CHECK(bad.code == 1);
  CHECK_THAT(bad.errors, Contains("'model.norm'") && Contains("KEY=VALUE"));
}

TEST_CASE("runs show: a run by id or directory name, and --json with every per-step metric",
          "[apps][runs]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_runs");
  const std::string store = fill_store(tmp);

  Runs human = runs(binary, store, {"show", "bn"});
  INFO(human.output << human.errors);
  REQUIRE(human.code == 0);
  CHECK_THAT(human.output, Contains("| name | bn |") && Contains("| model.norm | batch |") &&
                               Contains("| epoch | train loss | train acc | test loss | test acc |"));

  Runs json = runs(binary, store, {"show", "bn", "--json"});
  REQUIRE(json.code == 0);
  const nlohmann::json shown = nlohmann::json::parse(json.output);
  CHECK(shown["run"]["name"] == "bn");
  CHECK(shown["run"]["status"] == "completed");
  CHECK(shown["run"]["experiment"] == "norms");
  CHECK(shown["parameters"]["model.norm"] == "batch");
  CHECK(shown["parameters"]["optim.lr"] == "0.05");
  CHECK(shown["epochs"].size() == 2);
  // 128 images in batches of 32, 2 epochs: steps 0..7, each with loss, accuracy and lr.
  std::map<std::string, std::set<int64_t>> steps_by_key;
  for (const nlohmann::json& metric : shown["metrics"]) {
    REQUIRE(metric.contains("step"));
    REQUIRE(metric.contains("epoch"));
    REQUIRE(metric["value"].is_number());
    steps_by_key[metric["key"].get<std::string>()].insert(metric["step"].get<int64_t>());
  }
  for (const char* key : {"loss", "accuracy", "lr"}) {
    INFO(key);
    CHECK(steps_by_key[key] == std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  }

  // The same run by its id.
  const std::string id = shown["run"]["id"].get<std::string>();
  Runs by_id = runs(binary, store, {"show", id, "--json"});
  REQUIRE(by_id.code == 0);
  CHECK(nlohmann::json::parse(by_id.output)["run"]["name"] == "bn");

  Runs unknown = runs(binary, store, {"show", "424242"});
  CHECK(unknown.code == 1);
  CHECK_THAT(unknown.errors, Contains("no run '424242'") && Contains(tmp / "runs/runs.db"));
}

TEST_CASE("runs compare: accuracy, epochs to the threshold, divergence and step time",
          "[apps][runs]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_runs");
  const std::string store = fill_store(tmp);
  Runs compared = runs(binary, store, {"compare", "bn", "plain", "blowup", "--threshold", "0.2"});
  INFO(compared.output << compared.errors);
  REQUIRE(compared.code == 0);
  CHECK_THAT(compared.output,
             Contains("| id | name | status | final test acc | best test acc | epochs to 20.00% | "
                      "diverged | collapsed | step time (ms) |\n|---|---|---|---|---|---|---|---|---|\n"));
  const nlohmann::json blowup = nlohmann::json::parse(
      runs(binary, store, {"show", "blowup", "--json"}).output)["run"]["summary"];
  const std::string step = std::to_string(blowup["diverged_step"].get<int64_t>());
  const size_t cell = compared.output.find("| blowup |");
  REQUIRE(cell != std::string::npos);
  const size_t row = compared.output.rfind('\n', cell) + 1;
  const std::string line = compared.output.substr(row, compared.output.find('\n', row) - row);
  CHECK_THAT(line, Contains("| diverged |") && Contains("| yes, step " + step + " |") && Contains("never"));
  CHECK(std::count(line.begin(), line.end(), '|') == 10);
  CHECK(has_row(compared.output, "bn"));
  CHECK(has_row(compared.output, "plain"));

  Runs missing = runs(binary, store, {"compare", "bn", "nosuchrun"});
  CHECK(missing.code == 1);
  CHECK_THAT(missing.errors, Contains("no run 'nosuchrun'"));
}

TEST_CASE("runs query: a table, --csv and --json, and anything but SELECT/WITH refused",
          "[apps][runs]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_runs");
  const std::string store = fill_store(tmp);
  const std::string sql = "SELECT name, status FROM runs ORDER BY name";

  Runs table = runs(binary, store, {"query", sql});
  INFO(table.output << table.errors);
  REQUIRE(table.code == 0);
  CHECK_THAT(table.output, Contains("| name | status |\n|---|---|\n| blowup | diverged |\n"
                                    "| bn | completed |\n| plain | completed |\n(3 rows)"));

  Runs csv = runs(binary, store, {"query", sql, "--csv"});
  REQUIRE(csv.code == 0);
  CHECK(csv.output == "name,status\nblowup,diverged\nbn,completed\nplain,completed\n");

  Runs json = runs(binary, store, {"query", "WITH r AS (SELECT name FROM runs) SELECT name, NULL AS missing FROM r ORDER BY name", "--json"});
  REQUIRE(json.code == 0);
  const nlohmann::json rows = nlohmann::json::parse(json.output);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0]["name"] == "blowup");
  CHECK(rows[0]["missing"].is_null());

  for (const char* write : {"DELETE FROM runs", "UPDATE runs SET status = 'x'",
                                   "DROP TABLE runs", "SELECT 1; DELETE FROM runs"}) {
    INFO(write);
    Runs refused = runs(binary, store, {"query", write});
    CHECK(refused.code == 1);
    CHECK_THAT(refused.errors, Contains("SELECT"));
  }
  CHECK(RunStore(store).runs().size() == 3);  // nothing was changed
}
