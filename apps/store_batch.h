// One write to the run store: the rows one transaction carries (a run's start, its metrics,
// epochs, layer statistics, checkpoints, its end), and their JSON line in a run directory's
// store_spool.jsonl while the server is away. Every part is an idempotent upsert or update,
// so a batch written twice (spooled, then synced) leaves the same rows.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/run_records.h"

namespace cnn {

struct RunReopen {
  std::string run_dir;
  int64_t first_step = 0, first_epoch = 1;
};

struct RunFinish {
  std::string status, summary_json, finished_at;
};

struct StoreBatch {
  int64_t run_id = 0;
  std::optional<RunRow> begin;  // the run's row and its parameters
  std::optional<RunReopen> reopen;
  std::vector<MetricRow> metrics;
  std::vector<EpochRecord> epochs;
  std::vector<LayerStatRow> layer_stats;
  std::vector<CheckpointRow> checkpoints;
  std::optional<RunFinish> finish;

  size_t rows() const;  // what it writes, for queue bounds and rows/s
};

nlohmann::json batch_to_json(const StoreBatch& batch);
StoreBatch batch_from_json(const nlohmann::json& line, const std::string& where);

}  // namespace cnn
