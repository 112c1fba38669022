// A store batch and its spool line (see store_batch.h).
#include "apps/store_batch.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cnn {
namespace {

using json = nlohmann::json;

// JSON has no NaN or inf: they travel as the strings "nan", "inf", "-inf".
json number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}
double number(const json& value) {
  if (value.is_number()) return value.get<double>();
  const std::string text = value.get<std::string>();
  if (text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-inf") return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::quiet_NaN();
}

json run_to_json(const RunRow& r) {
  return {{"name", r.name},       {"run_dir", r.run_dir},         {"experiment", r.experiment},
          {"variant", r.variant}, {"config_yaml", r.config_yaml}, {"world_size", r.world_size},
          {"host", r.host},       {"started_at", r.started_at}};
}
RunRow run_from_json(const json& j, int64_t id) {
  RunRow r;
  r.id = id;
  r.name = j.at("name");
  r.run_dir = j.at("run_dir");
  r.experiment = j.at("experiment");
  r.variant = j.at("variant");
  r.config_yaml = j.at("config_yaml");
  r.world_size = j.at("world_size");
  r.host = j.at("host");
  r.started_at = j.at("started_at");
  r.status = "running";
  return r;
}

json epoch_to_json(const EpochRecord& e) {
  return json::array({e.epoch, number(e.train_loss), number(e.train_acc), number(e.test_loss),
                      number(e.test_acc), number(e.seconds), number(e.images_per_s),
                      number(e.step_seconds)});
}
EpochRecord epoch_from_json(const json& j) {
  return EpochRecord{j.at(0).get<int64_t>(), number(j.at(1)), number(j.at(2)), number(j.at(3)),
                     number(j.at(4)),        number(j.at(5)), number(j.at(6)), number(j.at(7))};
}

}  // namespace

size_t StoreBatch::rows() const {
  return (begin ? 1 : 0) + (reopen ? 1 : 0) + metrics.size() + epochs.size() + layer_stats.size() +
         checkpoints.size() + (finish ? 1 : 0);
}

json batch_to_json(const StoreBatch& batch) {
  json line{{"run_id", batch.run_id}};
  if (batch.begin) line["begin"] = run_to_json(*batch.begin);
  if (batch.reopen)
    line["reopen"] = {batch.reopen->run_dir, batch.reopen->first_step, batch.reopen->first_epoch};
  for (const MetricRow& m : batch.metrics)
    line["metrics"].push_back({m.step, m.epoch, m.key, number(m.value)});
  for (const EpochRecord& e : batch.epochs) line["epochs"].push_back(epoch_to_json(e));
  for (const LayerStatRow& s : batch.layer_stats)
    line["layer_stats"].push_back({s.step, s.layer, s.kind, number(s.value)});
  for (const CheckpointRow& c : batch.checkpoints)
    line["checkpoints"].push_back({c.path, c.step, c.sha256});
  if (batch.finish)
    line["finish"] = {batch.finish->status, batch.finish->summary_json, batch.finish->finished_at};
  return line;
}

StoreBatch batch_from_json(const json& line, const std::string& where) {
  try {
    StoreBatch batch;
    batch.run_id = line.at("run_id").get<int64_t>();
    if (line.contains("begin")) batch.begin = run_from_json(line["begin"], batch.run_id);
    if (line.contains("reopen"))
      batch.reopen = RunReopen{line["reopen"].at(0), line["reopen"].at(1), line["reopen"].at(2)};
    for (const json& m : line.value("metrics", json::array()))
      batch.metrics.push_back({m.at(0), m.at(1), m.at(2), number(m.at(3))});
    for (const json& e : line.value("epochs", json::array()))
      batch.epochs.push_back(epoch_from_json(e));
    for (const json& s : line.value("layer_stats", json::array()))
      batch.layer_stats.push_back({s.at(0), s.at(1), s.at(2), number(s.at(3))});
    for (const json& c : line.value("checkpoints", json::array()))
      batch.checkpoints.push_back({c.at(0), c.at(1), c.at(2)});
    if (line.contains("finish"))
      batch.finish = RunFinish{line["finish"].at(0), line["finish"].at(1), line["finish"].at(2)};
    return batch;
  } catch (const json::exception& error) {
    CNN_FAIL(where, ": not a store batch (", error.what(), ")");
  }
}

}  // namespace cnn
