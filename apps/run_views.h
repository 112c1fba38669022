// What `cnnlab runs` and `cnnlab serve` read from the run store, in the forms both show: the
// store to open, the run a user names, a run's outcome, and the JSON of runs and their records.
// Everything here only reads.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/run_records.h"
#include "apps/run_store.h"

namespace cnn {

// The store named by `store_option` (--store), else $CNNLAB_STORE, else runs/runs.db. A SQLite
// file that does not exist is refused with a sentence naming it (opening it would create an
// empty store, and an empty answer would hide the mistyped path).
std::unique_ptr<RunStore> open_store_for_reading(const std::string& store_option);

// The filter of `--experiment`, `--status` and `--where KEY=VALUE` (repeatable); a `where`
// without '=' or with an empty key is refused, naming it.
RunFilter make_run_filter(const std::string& experiment, const std::string& status,
                          const std::vector<std::string>& where);

// The run `id_or_name` names (its decimal id or its run directory's name); an unknown one is
// an error naming it and the store.
RunRow require_run(RunStore& store, const std::string& id_or_name);

// How a run went: summary.json's figures once it has ended, the epochs so far while it runs
// (NaN where nothing is known yet).
struct RunOutcome {
  double final_test_acc = 0, best_test_acc = 0, mean_step_seconds = 0;
  bool diverged = false, collapsed = false;
  int64_t diverged_step = -1, collapsed_step = -1;
};
RunOutcome run_outcome(const RunRow& run, const std::vector<EpochRecord>& epochs);

// A number as JSON: finite values as numbers; NaN, inf and -inf as the strings "NaN",
// "Infinity" and "-Infinity" (JSON has no such numbers; JavaScript's Number() reads them back).
nlohmann::ordered_json json_number(double value);

// Run ids are 63-bit: written as decimal strings, which JavaScript cannot round.
nlohmann::ordered_json run_json(const RunRow& run, const RunOutcome& outcome);
nlohmann::ordered_json parameters_json(const std::vector<std::pair<std::string, std::string>>& parameters);
nlohmann::ordered_json epochs_json(const std::vector<EpochRecord>& epochs);
nlohmann::ordered_json metrics_json(const std::vector<MetricRow>& metrics);
nlohmann::ordered_json layer_stats_json(const std::vector<LayerStatRow>& stats);

}  // namespace cnn
