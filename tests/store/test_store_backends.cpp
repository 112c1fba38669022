// RunStore on both backends with the same assertions: the round trip of every record, the
// read API (filters, find_run, parameters, metrics with NaN/inf, checkpoints, query),
// idempotent upserts, resume, the schema version check, and the migration from version 1.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "apps/run_store.h"
#include "core/error.h"
#include "tests/apps/cnnlab_process.h"
#include "tests/store/store_backends.h"

using namespace cnn;
using Catch::Contains;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

int64_t make_run(RunStore& store, const std::string& name, const std::string& norm,
                 const std::string& experiment) {
  RunRow row;
  row.id = RunStore::new_run_id();
  row.name = name;
  row.run_dir = "runs/" + experiment + "/" + name;
  row.experiment = experiment;
  row.variant = name;
  row.config_yaml = "name: " + name + "\nmodel: {norm: " + norm + "}\noptim: {lr: 0.1}\n";
  row.started_at = "2026-12-01T10:00:00Z";
  row.world_size = 2;
  store.begin_run(row);
  return row.id;
}

// Version 1, as cnnlab wrote it before schema_version existed, with one run.
void create_version_1(const std::string& url, const std::string& backend) {
  soci::session sql(backend == "sqlite" ? "sqlite3" : "mysql",
                    soci_parameters(parse_store_url(url)));
  sql << "CREATE TABLE runs (id BIGINT PRIMARY KEY, name VARCHAR(191) NOT NULL,"
         " run_dir VARCHAR(1024) NOT NULL, started_at VARCHAR(64) NOT NULL,"
         " finished_at VARCHAR(64), status VARCHAR(32) NOT NULL, summary_json TEXT)";
  sql << "CREATE TABLE configs (run_id BIGINT PRIMARY KEY, yaml TEXT NOT NULL)";
  sql << "CREATE TABLE step_metrics (run_id BIGINT NOT NULL, epoch BIGINT NOT NULL,"
         " step BIGINT NOT NULL, lr DOUBLE, loss DOUBLE, accuracy DOUBLE,"
         " PRIMARY KEY (run_id, step))";
  sql << "CREATE TABLE epoch_metrics (run_id BIGINT NOT NULL, epoch BIGINT NOT NULL,"
         " train_loss DOUBLE, train_acc DOUBLE, test_loss DOUBLE, test_acc DOUBLE,"
         " seconds DOUBLE, images_per_s DOUBLE, PRIMARY KEY (run_id, epoch))";
  sql << "CREATE TABLE layer_stats (run_id BIGINT NOT NULL, step BIGINT NOT NULL,"
         " layer VARCHAR(191) NOT NULL, kind VARCHAR(64) NOT NULL, value DOUBLE,"
         " PRIMARY KEY (run_id, step, layer, kind))";
  sql << "INSERT INTO runs VALUES (1, 'old', 'runs/old', '2024-01-01T00:00:00Z', NULL,"
         " 'completed', '{}')";
  sql << "INSERT INTO configs VALUES (1, 'model: {norm: batch}\n')";
  sql << "INSERT INTO step_metrics VALUES (1, 1, 0, 0.1, NULL, 0.5)";
  sql << "INSERT INTO epoch_metrics VALUES (1, 1, 2.0, 0.3, 1.9, 0.35, 10, 100)";
}

}  // namespace

TEST_CASE("store round-trips a run and its records on every backend", "[store]") {
  STORE_BACKEND(test);
  RunStore store(test.url);
  const int64_t bn = make_run(store, "bn", "batch", "bn_vs_plain");
  const int64_t plain = make_run(store, "plain", "none", "bn_vs_plain");
  REQUIRE(plain > bn);
  store.log_steps(bn, {{1, 0, 0.1, 2.3, 0.1}, {1, 1, 0.1, 2.1, 0.2}});
  store.log_step(bn, 1, 1, 0.1, 2.0, 0.25);  // re-logged: replaces
  StoreBatch batch;
  batch.run_id = plain;
  batch.metrics = {{0, 1, "loss", std::nan("")}, {1, 1, "loss", kInf}, {2, 1, "loss", -kInf}};
  batch.checkpoints = {{"checkpoint.safetensors", 2, std::string(64, 'a')}};
  batch.epochs = {EpochRecord{1, 2.0, 0.3, std::nan(""), 0.35, 12.5, 4000.0, 0.01}};
  store.write(batch);
  store.write(batch);  // twice: the same rows (a synced spool)
  store.log_layer_stats(bn, {{1, "features.0", "grad_norm", 0.5}});
  store.finish_run(bn, "completed", R"({"best_test_acc": 0.35})");

  std::vector<RunRow> runs = store.runs();
  REQUIRE(runs.size() == 2);
  REQUIRE(runs[0].id == bn);
  REQUIRE(runs[0].experiment == "bn_vs_plain");
  REQUIRE(runs[0].variant == "bn");
  REQUIRE(runs[0].world_size == 2);
  REQUIRE(!runs[0].host.empty());
  REQUIRE(runs[0].status == "completed");
  REQUIRE(runs[0].summary_json == R"({"best_test_acc": 0.35})");
  REQUIRE(runs[1].status == "running");
  REQUIRE(runs[1].finished_at.empty());

  REQUIRE(store.runs(RunFilter{"bn_vs_plain", "", {{"model.norm", "none"}}}).at(0).id == plain);
  REQUIRE(store.runs(RunFilter{"", "completed", {}}).size() == 1);
  REQUIRE(store.runs(RunFilter{"other", "", {}}).empty());
  REQUIRE(store.find_run(std::to_string(plain))->name == "plain");
  REQUIRE(store.find_run("bn")->id == bn);
  REQUIRE(!store.find_run("nosuch").has_value());
  auto params = store.parameters(bn);
  REQUIRE(params == std::vector<std::pair<std::string, std::string>>{
                        {"model.norm", "batch"}, {"name", "bn"}, {"optim.lr", "0.1"}});

  std::vector<MetricRow> metrics = store.metrics(bn);
  REQUIRE(metrics.size() == 6);  // 2 steps x loss, accuracy, lr, by step then key
  REQUIRE(metrics[0].key == "accuracy");
  REQUIRE(store.metrics(bn, "loss").at(1).value == 2.0);
  REQUIRE(store.metrics(bn, "loss", 0).size() == 1);
  std::vector<MetricRow> odd = store.metrics(plain, "loss");
  REQUIRE(odd.size() == 3);
  REQUIRE(std::isnan(odd[0].value));
  REQUIRE(odd[1].value == kInf);
  REQUIRE(odd[2].value == -kInf);
  REQUIRE(store.steps(bn).at(1).accuracy == 0.25);
  REQUIRE(store.checkpoints(plain).size() == 1);
  REQUIRE(store.checkpoints(plain)[0].sha256 == std::string(64, 'a'));
  REQUIRE(store.epochs(plain).size() == 1);
  REQUIRE(std::isnan(store.epochs(plain)[0].test_loss));
  REQUIRE(store.layer_stats(bn).at(0).value == 0.5);

  QueryResult counted = store.query(
      "SELECT r.name, COUNT(*) AS n FROM runs r JOIN metrics m ON m.run_id = r.id"
      " GROUP BY r.name ORDER BY r.name");
  REQUIRE(counted.columns == std::vector<std::string>{"name", "n"});
  REQUIRE(counted.rows.size() == 2);
  REQUIRE(*counted.rows[0][1] == "6");
  REQUIRE(*counted.rows[1][1] == "3");
  REQUIRE(!store.query("SELECT value FROM metrics WHERE non_finite = 'nan'").rows.at(0)[0]);

  RunStore again(test.url);  // another connection sees the same rows
  REQUIRE(again.runs().size() == 2);
}

TEST_CASE("store queries are read-only on every backend", "[store]") {
  STORE_BACKEND(test);
  RunStore store(test.url);
  make_run(store, "r", "batch", "e");
  for (const char* refused : {"DELETE FROM runs", "UPDATE runs SET status = 'x'", "DROP TABLE runs",
                              "SELECT 1; DELETE FROM runs"})
    REQUIRE_THROWS_WITH(store.query(refused), Contains("one SELECT or WITH statement"));
  REQUIRE(store.query("WITH x AS (SELECT COUNT(*) AS n FROM runs) SELECT n FROM x").rows.at(0)[0] ==
          "1");
  REQUIRE(store.query(" -- a comment\n SELECT name FROM runs").rows.size() == 1);
  REQUIRE(store.runs().size() == 1);
  make_run(store, "s", "batch", "e");  // writes still work after a query
  REQUIRE(store.runs().size() == 2);
}

TEST_CASE("store reopens a resumed run and refuses unknown ones on every backend", "[store]") {
  STORE_BACKEND(test);
  RunStore store(test.url);
  const int64_t run = make_run(store, "r", "batch", "e");
  store.log_steps(run, {{1, 0, 0.1, 2.3, 0.1}, {1, 1, 0.1, 2.1, 0.2}, {2, 2, 0.1, 2.0, 0.3}});
  store.log_epoch(run, EpochRecord{1, 2.0, 0.3, 1.9, 0.35, 1, 1, 1});
  store.log_epoch(run, EpochRecord{2, 1.0, 0.5, 1.5, 0.45, 1, 1, 1});
  store.finish_run(run, "interrupted", "{}");
  REQUIRE(!store.reopen_run(run, "runs/elsewhere", 1, 2));
  REQUIRE(store.reopen_run(run, "runs/e/r", 1, 2));
  REQUIRE(store.run(run)->status == "running");
  REQUIRE(store.steps(run).size() == 1);
  REQUIRE(store.epochs(run).size() == 1);
  REQUIRE_THROWS_WITH(store.finish_run(run, "done", "{}"), Contains("not 'done'"));
  REQUIRE_THROWS_WITH(store.finish_run(run + 1, "failed", "{}"),
                      Contains("there is no run with id " + std::to_string(run + 1)));
}

TEST_CASE("store refuses another schema version and migrates version 1", "[store]") {
  STORE_BACKEND(test);
  create_version_1(test.url, test.backend);
  REQUIRE_THROWS_WITH(RunStore(test.url),
                      Contains("schema version 1") && Contains("cnnlab runs migrate --store"));
  REQUIRE(RunStore::migrate(test.url) == 1);
  REQUIRE(RunStore::migrate(test.url) == 2);  // again: nothing to do
  RunStore store(test.url);
  REQUIRE(store.run(1)->config_yaml == "model: {norm: batch}\n");
  REQUIRE(store.parameters(1).at(0) == std::pair<std::string, std::string>{"model.norm", "batch"});
  REQUIRE(std::isnan(store.steps(1).at(0).loss));
  REQUIRE(store.steps(1).at(0).accuracy == 0.5);
  REQUIRE(store.epochs(1).at(0).test_acc == 0.35);
  REQUIRE(std::isnan(store.epochs(1).at(0).step_seconds));
  REQUIRE(store.query("SELECT version FROM schema_version").rows.at(0)[0] == "2");
}

TEST_CASE("cnnlab refuses a version-1 store and `cnnlab runs migrate` upgrades it", "[store]") {
  const std::string binary = cnn::apptest::cnnlab_binary();
  if (binary.empty()) return;
  STORE_BACKEND(test);
  create_version_1(test.url, test.backend);
  cnn::apptest::write_tiny_cifar10(test.folder / "data", 16, 16);
  cnn::apptest::write_text(test.folder / "run.yaml",
                           cnn::apptest::tiny_config(test.folder / "data", 16, 1));
  cnn::apptest::CnnlabProcess refused(binary, {"train", "--config", test.folder / "run.yaml",
                                               "--out", test.folder / "run", "--store", test.url});
  CHECK(refused.wait(120000).code != 0);
  CHECK_THAT(refused.output(), Contains("schema version 1") &&
                                   Contains("upgrade it with `cnnlab runs migrate --store"));
  cnn::apptest::CnnlabProcess migrate(binary, {"runs", "migrate", "--store", test.url});
  REQUIRE(migrate.wait(60000).code == 0);
  CHECK_THAT(migrate.output(), Contains("schema version 1 -> 2"));
  cnn::apptest::CnnlabProcess trained(binary, {"train", "--config", test.folder / "run.yaml",
                                               "--out", test.folder / "run", "--store", test.url});
  INFO(trained.output());
  REQUIRE(trained.wait(120000).code == 0);
  RunStore store(test.url);
  REQUIRE(store.runs().size() == 2);  // the migrated run and the new one
  REQUIRE(store.runs().back().status == "completed");
}
