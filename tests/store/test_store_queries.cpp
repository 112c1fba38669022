// docs/store.md's analytical queries, read from the document itself, run on both backends
// over runs the store recorded: divergence at lr >= 0.2, BN's step-time overhead by batch
// size, and final accuracy by normalization and seed.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "apps/run_store.h"
#include "tests/store/store_backends.h"

using namespace cnn;

namespace {

// The ```sql block of docs/store.md whose first line is "-- query: NAME".
std::string documented_query(const std::string& name) {
  std::ifstream file(std::string(CNNLAB_SOURCE_DIR) + "/docs/store.md");
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str(), marker = "```sql\n-- query: " + name + "\n";
  const size_t begin = doc.find(marker);
  REQUIRE(begin != std::string::npos);
  const size_t end = doc.find("```", begin + marker.size());
  return doc.substr(begin + 7, end - begin - 7);
}

void record_run(RunStore& store, const std::string& norm, double lr, int batch, int seed,
                const std::string& status, double step_seconds, double final_acc) {
  std::ostringstream yaml;
  yaml << "name: " << norm << "-lr" << lr << "-b" << batch << "-s" << seed << "\nseed: " << seed
       << "\ndata: {batch_size: " << batch << "}\nmodel: {norm: " << norm
       << "}\noptim: {name: sgd, lr: " << lr << "}\n";
  const std::string name =
      norm + "-" + std::to_string(batch) + "-" + std::to_string(seed) + "-" + std::to_string(lr);
  const int64_t run = store.begin_run(name, "runs/" + name, yaml.str(), "2026-12-01T00:00:00Z");
  store.log_epoch(run, EpochRecord{1, 1.0, 0.3, 1.0, final_acc - 0.1, 10, 100, step_seconds});
  store.log_epoch(run, EpochRecord{2, 0.8, 0.4, 0.9, final_acc, 10, 100, step_seconds});
  store.finish_run(run, status, "{}");
}

double number(const std::optional<std::string>& cell) { return std::stod(cell.value()); }

}  // namespace

TEST_CASE("docs/store.md's analytical queries answer on every backend", "[store][queries]") {
  STORE_BACKEND(test);
  RunStore store(test.url);
  record_run(store, "batch", 0.1, 32, 0, "completed", 0.012, 0.80);
  record_run(store, "none", 0.1, 32, 0, "completed", 0.010, 0.70);
  record_run(store, "batch", 0.1, 32, 1, "completed", 0.014, 0.82);
  record_run(store, "none", 0.1, 32, 1, "completed", 0.010, 0.68);
  record_run(store, "batch", 0.1, 128, 0, "completed", 0.030, 0.78);
  record_run(store, "none", 0.1, 128, 0, "completed", 0.020, 0.60);
  record_run(store, "none", 0.2, 32, 0, "diverged", 0.010, 0.10);
  record_run(store, "none", 0.4, 32, 0, "diverged", 0.010, 0.10);
  record_run(store, "none", 0.05, 32, 0, "diverged", 0.010, 0.10);  // below 0.2: not listed
  record_run(store, "batch", 0.4, 32, 0, "completed", 0.012, 0.75);

  QueryResult diverged = store.query(documented_query("diverged_at_high_lr"));
  REQUIRE(diverged.columns == std::vector<std::string>{"id", "name", "lr"});
  REQUIRE(diverged.rows.size() == 2);
  REQUIRE(number(diverged.rows[0][2]) == Approx(0.2));
  REQUIRE(number(diverged.rows[1][2]) == Approx(0.4));

  QueryResult overhead = store.query(documented_query("bn_step_overhead_by_batch_size"));
  REQUIRE(overhead.columns ==
          std::vector<std::string>{"batch_size", "bn_step_s", "plain_step_s", "overhead"});
  REQUIRE(overhead.rows.size() == 2);
  REQUIRE(number(overhead.rows[0][0]) == 32);
  REQUIRE(number(overhead.rows[0][1]) == Approx((0.012 + 0.014 + 0.012) / 3));
  REQUIRE(number(overhead.rows[0][2]) == Approx(0.010));
  REQUIRE(number(overhead.rows[1][0]) == 128);
  REQUIRE(number(overhead.rows[1][3]) == Approx(1.5));

  QueryResult accuracy = store.query(documented_query("accuracy_by_norm_and_seed"));
  REQUIRE(accuracy.columns == std::vector<std::string>{"norm", "seed", "final_test_acc"});
  REQUIRE(accuracy.rows.size() == 10);  // one per run: its last epoch
  std::map<std::string, int> per_norm;
  for (const auto& row : accuracy.rows) ++per_norm[row[0].value()];
  REQUIRE(per_norm["batch"] == 4);
  REQUIRE(per_norm["none"] == 6);
  REQUIRE(accuracy.rows[0][0] == "batch");
  REQUIRE(number(accuracy.rows[0][1]) == 0);
  REQUIRE(number(accuracy.rows.back()[1]) == 1);  // none, seed 1: last by seed
  REQUIRE(number(accuracy.rows.back()[2]) == Approx(0.68));
}
