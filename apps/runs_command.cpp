// `cnnlab runs list|show|compare|query`: the store read back, as tables (markdown, as compare
// prints its table), CSV or JSON.
#include "apps/runs_command.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "apps/run_views.h"
#include "apps/store_maintenance.h"
#include "apps/text_table.h"
#include "core/error.h"

namespace cnn {

namespace {

std::string step_text(bool happened, int64_t step, const char* prefix) {
  if (!happened) return "no";
  return step >= 0 ? std::string("yes, ") + prefix + std::to_string(step) : "yes";
}

// ---- list ----
int list_runs(RunStore& store, const RunsArgs& args) {
  std::vector<std::vector<std::string>> rows;
  for (const RunRow& run : store.runs(make_run_filter(args.experiment, args.status, args.where))) {
    const RunOutcome outcome = run_outcome(run, run.summary_json.empty() ? store.epochs(run.id)
                                                                         : std::vector<EpochRecord>{});
    rows.push_back({std::to_string(run.id), run.name, run.experiment, run.variant, run.status,
                    run.started_at, format_percent(outcome.best_test_acc)});
  }
  std::printf("%s", markdown_table({"id", "name", "experiment", "variant", "status", "started",
                                    "best acc"},
                                   rows)
                        .c_str());
  if (rows.empty()) std::printf("(no runs match in %s)\n", store.database().c_str());
  return 0;
}

// ---- show ----
void print_run(const RunRow& run, const std::vector<std::pair<std::string, std::string>>& parameters,
               const std::vector<EpochRecord>& epochs) {
  std::vector<std::vector<std::string>> facts = {
      {"id", std::to_string(run.id)}, {"name", run.name},       {"status", run.status},
      {"experiment", run.experiment}, {"variant", run.variant}, {"run directory", run.run_dir},
      {"started", run.started_at},    {"finished", run.finished_at.empty() ? "-" : run.finished_at},
      {"host", run.host},             {"world size", std::to_string(run.world_size)}};
  std::vector<std::vector<std::string>> parameter_rows;
  for (const auto& parameter : parameters) parameter_rows.push_back({parameter.first, parameter.second});
  std::vector<std::vector<std::string>> epoch_rows;
  for (const EpochRecord& e : epochs)
    epoch_rows.push_back({std::to_string(e.epoch), format_fixed(e.train_loss, 4), format_percent(e.train_acc),
                          format_fixed(e.test_loss, 4), format_percent(e.test_acc),
                          format_fixed(e.seconds, 1), format_fixed(e.images_per_s, 0)});
  std::printf("%s\nParameters:\n\n%s\nEpochs:\n\n%s", markdown_table({"run", "value"}, facts).c_str(),
              markdown_table({"key", "value"}, parameter_rows).c_str(),
              markdown_table({"epoch", "train loss", "train acc", "test loss", "test acc", "seconds",
                              "images/s"},
                             epoch_rows)
                  .c_str());
}

int show_run(RunStore& store, const RunsArgs& args) {
  const RunRow run = require_run(store, args.run);
  const std::vector<EpochRecord> epochs = store.epochs(run.id);
  const auto parameters = store.parameters(run.id);
  if (!args.json) {
    print_run(run, parameters, epochs);
    return 0;
  }
  nlohmann::ordered_json out{{"run", run_json(run, run_outcome(run, epochs))},
                             {"parameters", parameters_json(parameters)},
                             {"epochs", epochs_json(epochs)},
                             {"metrics", metrics_json(store.metrics(run.id))}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

// ---- compare ----
int compare_runs(RunStore& store, const RunsArgs& args) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& name : args.compared) {
    const RunRow run = require_run(store, name);
    const std::vector<EpochRecord> epochs = store.epochs(run.id);
    const RunOutcome outcome = run_outcome(run, epochs);
    std::string reached = "never";
    for (const EpochRecord& e : epochs)
      if (std::isfinite(e.test_acc) && e.test_acc >= args.threshold) {
        reached = std::to_string(e.epoch);
        break;
      }
    rows.push_back({std::to_string(run.id), run.name, run.status, format_percent(outcome.final_test_acc),
                    format_percent(outcome.best_test_acc), reached,
                    step_text(outcome.diverged, outcome.diverged_step, "step "),
                    step_text(outcome.collapsed, outcome.collapsed_step, "by step "),
                    format_fixed(outcome.mean_step_seconds * 1000, 1)});
  }
  std::printf("%s", markdown_table({"id", "name", "status", "final test acc", "best test acc",
                                    "epochs to " + format_percent(args.threshold), "diverged",
                                    "collapsed", "step time (ms)"},
                                   rows)
                        .c_str());
  return 0;
}

// ---- query ----
std::string csv_field(const std::optional<std::string>& value) {
  if (!value) return "";
  if (value->find_first_of(",\"\n\r") == std::string::npos) return *value;
  std::string quoted = "\"";
  for (char c : *value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

int query_store(RunStore& store, const RunsArgs& args) {
  CNN_CHECK(!(args.csv && args.json), "runs query: choose one of --csv and --json");
  const QueryResult result = store.query(args.sql);
  if (args.json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& row : result.rows) {
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (size_t c = 0; c < result.columns.size() && c < row.size(); ++c)
        object[result.columns[c]] = row[c] ? nlohmann::ordered_json(*row[c]) : nlohmann::ordered_json(nullptr);
      rows.push_back(object);
    }
    std::printf("%s\n", rows.dump(2).c_str());
  } else if (args.csv) {
    std::ostringstream out;
    for (size_t c = 0; c < result.columns.size(); ++c) out << (c ? "," : "") << csv_field(result.columns[c]);
    out << "\n";
    for (const auto& row : result.rows) {
      for (size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << csv_field(row[c]);
      out << "\n";
    }
    std::printf("%s", out.str().c_str());
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : result.rows) {
      rows.emplace_back();
      for (const auto& value : row) rows.back().push_back(value.value_or("NULL"));
    }
    std::printf("%s(%zu rows)\n", markdown_table(result.columns, rows).c_str(), rows.size());
  }
  return 0;
}

}  // namespace

RunsCommand::RunsCommand(CLI::App& app) {
  runs_ = app.add_subcommand(
      "runs", "The run store: list, show, compare and query runs; migrate and sync the store");
  runs_->require_subcommand(1);
  runs_->fallthrough();  // --store after the subcommand too: `runs list --store URL`
  runs_->add_option("--store", args_.store,
                    "Run store URL: sqlite:PATH or mysql://USER@HOST[:PORT]/DB (default: "
                    "$CNNLAB_STORE, else runs/runs.db)");
  list_ = runs_->add_subcommand("list", "List runs: id, name, experiment, variant, status, best accuracy");
  list_->add_option("--experiment", args_.experiment, "Only the runs of this experiment");
  list_->add_option("--status", args_.status, "Only runs with this status (running, completed, ...)");
  list_->add_option("--where", args_.where,
                    "Only runs whose flattened config has KEY=VALUE, e.g. model.norm=batch (repeatable)");
  show_ = runs_->add_subcommand("show", "One run: its row, parameters and epochs");
  show_->add_option("run", args_.run, "Run id, or run directory name")->required();
  show_->add_flag("--json", args_.json, "One JSON object: run, parameters, epochs and per-step metrics");
  compare_ = runs_->add_subcommand("compare", "Compare runs: accuracy, convergence, divergence, step time");
  compare_->add_option("runs", args_.compared, "Run ids or run directory names")->required();
  compare_->add_option("--threshold", args_.threshold, "Test accuracy whose first epoch is counted")
      ->capture_default_str();
  query_ = runs_->add_subcommand("query", "Run a read-only SQL query (SELECT or WITH) on the store");
  query_->add_option("sql", args_.sql, "The query, e.g. \"SELECT name, status FROM runs\"")->required();
  query_->add_flag("--csv", args_.csv, "Print CSV");
  query_->add_flag("--json", args_.json, "Print a JSON array of objects");
  add_store_maintenance_commands(*runs_);  // `runs migrate`, `runs sync`: run by their callbacks
}

bool RunsCommand::parsed() const { return runs_->parsed(); }

int RunsCommand::run() const {
  if (!list_->parsed() && !show_->parsed() && !compare_->parsed() && !query_->parsed())
    return 0;  // migrate or sync: done by their callbacks during parsing
  std::unique_ptr<RunStore> store = open_store_for_reading(args_.store);
  if (list_->parsed()) return list_runs(*store, args_);
  if (show_->parsed()) return show_run(*store, args_);
  if (compare_->parsed()) return compare_runs(*store, args_);
  return query_store(*store, args_);
}

}  // namespace cnn
