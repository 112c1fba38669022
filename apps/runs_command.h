// `cnnlab runs`: reading the run store from the terminal.
//   cnnlab runs list [--experiment E] [--status S] [--where KEY=VALUE ...]
//   cnnlab runs show RUN [--json]             RUN: a run id or a run directory's name
//   cnnlab runs compare RUN RUN... [--threshold 0.5]
//   cnnlab runs query "SELECT ..." [--csv | --json]   read-only
// (and the store's upkeep: `runs migrate`, `runs sync`, apps/store_maintenance.h). Each takes
// --store URL (else $CNNLAB_STORE, else runs/runs.db).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cnn {

struct RunsArgs {
  std::string store;
  std::string experiment, status;  // list
  std::vector<std::string> where;  // list
  std::string run;                 // show
  bool json = false;               // show, query
  std::vector<std::string> compared;  // compare
  double threshold = 0.5;             // compare
  std::string sql;                    // query
  bool csv = false;                   // query
};

// Declares `runs` and its subcommands on `app`; `args` receives their values.
class RunsCommand {
 public:
  explicit RunsCommand(CLI::App& app);
  bool parsed() const;
  int run() const;  // the exit code; errors are thrown as cnn::Error

 private:
  RunsArgs args_;
  CLI::App* runs_ = nullptr;
  CLI::App *list_ = nullptr, *show_ = nullptr, *compare_ = nullptr, *query_ = nullptr;
};

}  // namespace cnn
