// Reading runs for `cnnlab runs` and `cnnlab serve`.
#include "apps/run_views.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "apps/store_url.h"
#include "core/error.h"

namespace cnn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double summary_number(const nlohmann::json& summary, const char* key) {
  auto it = summary.find(key);
  return it != summary.end() && it->is_number() ? it->get<double>() : kNaN;
}

// The run's summary.json as the store keeps it; a discarded value while it runs.
nlohmann::json parsed_summary(const RunRow& run) {
  if (run.summary_json.empty()) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(run.summary_json, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

std::unique_ptr<RunStore> open_store_for_reading(const std::string& store_option) {
  const std::string url = choose_store_url(store_option, "runs/runs.db");
  const StoreUrl parsed = parse_store_url(url);
  if (parsed.backend == StoreBackend::sqlite && parsed.sqlite_path != ":memory:")
    CNN_CHECK(std::filesystem::exists(parsed.sqlite_path), "run store '", parsed.sqlite_path,
              "' does not exist: train a run first, or name the store with --store URL (or "
              "CNNLAB_STORE)");
  return std::make_unique<RunStore>(url);
}

RunFilter make_run_filter(const std::string& experiment, const std::string& status,
                          const std::vector<std::string>& where) {
  RunFilter filter;
  filter.experiment = experiment;
  filter.status = status;
  for (const std::string& condition : where) {
    const size_t equals = condition.find('=');
    CNN_CHECK(equals != std::string::npos && equals > 0, "where '", condition,
              "': write KEY=VALUE with a flattened config key, e.g. model.norm=batch");
    filter.params.emplace_back(condition.substr(0, equals), condition.substr(equals + 1));
  }
  return filter;
}

RunRow require_run(RunStore& store, const std::string& id_or_name) {
  std::optional<RunRow> run = store.find_run(id_or_name);
  CNN_CHECK(run.has_value(), "run store '", store.database(), "' has no run '", id_or_name,
            "' (give a run id, or a run directory's name; `cnnlab runs list` shows them)");
  return *run;
}

RunOutcome run_outcome(const RunRow& run, const std::vector<EpochRecord>& epochs) {
  RunOutcome outcome;
  const nlohmann::json summary = parsed_summary(run);
  if (summary.is_object()) {
    outcome.final_test_acc = summary_number(summary, "final_test_acc");
    outcome.best_test_acc = summary_number(summary, "best_test_acc");
    outcome.mean_step_seconds = summary_number(summary, "mean_step_seconds");
    outcome.diverged = summary.value("diverged", false);
    outcome.diverged_step = summary.value("diverged_step", int64_t{-1});
    outcome.collapsed = summary.value("collapsed", false);
    outcome.collapsed_step = summary.value("collapsed_step", int64_t{-1});
    return outcome;
  }
  outcome.final_test_acc = outcome.best_test_acc = kNaN;
  double seconds = 0;
  int64_t counted = 0;
  for (const EpochRecord& epoch : epochs) {
    outcome.final_test_acc = epoch.test_acc;
    if (std::isfinite(epoch.test_acc) &&
        (!std::isfinite(outcome.best_test_acc) || epoch.test_acc > outcome.best_test_acc))
      outcome.best_test_acc = epoch.test_acc;
    if (std::isfinite(epoch.step_seconds)) {
      seconds += epoch.step_seconds;
      ++counted;
    }
  }
  outcome.mean_step_seconds = counted > 0 ? seconds / static_cast<double>(counted) : kNaN;
  return outcome;
}

nlohmann::ordered_json json_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

nlohmann::ordered_json run_json(const RunRow& run, const RunOutcome& outcome) {
  auto text_or_null = [](const std::string& text) {
    return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
  };
  const nlohmann::json summary = parsed_summary(run);
  return {{"id", std::to_string(run.id)},
          {"name", run.name},
          {"experiment", run.experiment},
          {"variant", run.variant},
          {"status", run.status},
          {"started_at", run.started_at},
          {"finished_at", text_or_null(run.finished_at)},
          {"run_dir", run.run_dir},
          {"host", run.host},
          {"world_size", run.world_size},
          {"final_test_acc", json_number(outcome.final_test_acc)},
          {"best_test_acc", json_number(outcome.best_test_acc)},
          {"mean_step_seconds", json_number(outcome.mean_step_seconds)},
          {"diverged", outcome.diverged},
          {"collapsed", outcome.collapsed},
          {"summary", summary.is_object() ? nlohmann::ordered_json::parse(run.summary_json)
                                          : nlohmann::ordered_json(nullptr)}};
}

nlohmann::ordered_json parameters_json(
    const std::vector<std::pair<std::string, std::string>>& parameters) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& parameter : parameters) out[parameter.first] = parameter.second;
  return out;
}

nlohmann::ordered_json epochs_json(const std::vector<EpochRecord>& epochs) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const EpochRecord& e : epochs)
    out.push_back({{"epoch", e.epoch},
                   {"train_loss", json_number(e.train_loss)},
                   {"train_acc", json_number(e.train_acc)},
                   {"test_loss", json_number(e.test_loss)},
                   {"test_acc", json_number(e.test_acc)},
                   {"seconds", json_number(e.seconds)},
                   {"images_per_s", json_number(e.images_per_s)},
                   {"step_seconds", json_number(e.step_seconds)}});
  return out;
}

nlohmann::ordered_json metrics_json(const std::vector<MetricRow>& metrics) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const MetricRow& m : metrics)
    out.push_back({{"step", m.step}, {"epoch", m.epoch}, {"key", m.key}, {"value", json_number(m.value)}});
  return out;
}

nlohmann::ordered_json layer_stats_json(const std::vector<LayerStatRow>& stats) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const LayerStatRow& s : stats)
    out.push_back({{"step", s.step}, {"layer", s.layer}, {"kind", s.kind}, {"value", json_number(s.value)}});
  return out;
}

}  // namespace cnn
