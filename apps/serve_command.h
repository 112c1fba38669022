// `cnnlab serve [--store URL] [--host 127.0.0.1] [--port 8080]`: the dashboard. A read-only
// HTTP server over the run store: the runs table with filters, a run's curves and layer
// statistics as it trains, and a comparison of chosen runs, from pages compiled into the
// program (apps/dashboard/), and the JSON API those pages read:
//   GET /api/runs[?experiment=E&status=S&where=KEY=VALUE...]   runs, as `runs list` filters
//   GET /api/runs/ID                       {run, parameters}
//   GET /api/runs/ID/metrics[?key=K&after=STEP]   [{step, epoch, key, value}], step > STEP
//   GET /api/runs/ID/epochs                [{epoch, train_loss, ...}]
//   GET /api/runs/ID/layer_stats[?after=STEP]     [{step, layer, kind, value}]
// Errors are JSON {"error": sentence}: 404 for an unknown run or path, 400 for a bad parameter.
#pragma once

#include <string>

namespace cnn {

struct ServeOptions {
  std::string store;             // "" = $CNNLAB_STORE, else runs/runs.db
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;               // 0 = any free port (the printed URL names it)
};

// Serves until SIGINT or SIGTERM, then stops cleanly; returns the exit code. Prints
// "serving http://HOST:PORT/" on stdout once it listens.
int run_serve(const ServeOptions& options);

}  // namespace cnn
