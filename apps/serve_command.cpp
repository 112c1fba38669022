// The dashboard's HTTP server (cpp-httplib): routes, the JSON API over the run store, the
// embedded pages, and a clean stop on Ctrl-C.
#include "apps/serve_command.h"

#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>
#include <thread>

#include "apps/dashboard_assets.h"
#include "apps/run_views.h"
#include "core/error.h"

namespace cnn {

namespace {

// A request the API cannot answer: the status and the sentence sent back as {"error": ...}.
struct HttpError {
  int status;
  std::string message;
};

void send_json(httplib::Response& response, const nlohmann::ordered_json& body, int status = 200) {
  response.status = status;
  response.set_header("Cache-Control", "no-store");
  response.set_content(body.dump(), "application/json; charset=utf-8");
}

void send_error(httplib::Response& response, int status, const std::string& message) {
  send_json(response, {{"error", message}}, status);
}

// ?name=INTEGER, or `fallback` when absent; anything else is a 400.
int64_t integer_param(const httplib::Request& request, const char* name, int64_t fallback) {
  if (!request.has_param(name)) return fallback;
  const std::string text = request.get_param_value(name);
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty())
    throw HttpError{400, std::string("parameter '") + name + "' must be an integer, not '" + text + "'"};
  return value;
}

// The run of /api/runs/ID: ID is a decimal run id; anything else, or an id the store lacks, is a 404.
RunRow path_run(RunStore& store, const httplib::Request& request) {
  const std::string id = request.matches[1];
  const bool decimal = !id.empty() && id.size() <= 19 && id.find_first_not_of("0123456789") == std::string::npos;
  std::optional<RunRow> run = decimal ? store.find_run(id) : std::nullopt;
  if (!run) throw HttpError{404, "no run '" + id + "' in the run store '" + store.database() + "'"};
  return *run;
}

// Every ?where=KEY=VALUE, read from the raw query: httplib keeps only the text after a
// value's last '=', and "where=model.norm=batch" typed as such (unencoded) is meant whole.
std::vector<std::string> where_params(const httplib::Request& request) {
  std::vector<std::string> where;
  const size_t query = request.target.find('?');
  if (query == std::string::npos) return where;
  std::stringstream parts(request.target.substr(query + 1));
  for (std::string part; std::getline(parts, part, '&');)
    if (part.starts_with("where=")) where.push_back(httplib::detail::decode_url(part.substr(6), true));
  return where;
}

RunFilter request_filter(const httplib::Request& request) {
  const std::vector<std::string> where = where_params(request);
  try {
    return make_run_filter(request.get_param_value("experiment"), request.get_param_value("status"), where);
  } catch (const Error& error) {
    throw HttpError{400, error.what()};
  }
}

// Wraps an API handler: HttpError and store errors become JSON errors.
httplib::Server::Handler api(RunStore& store,
                             std::function<nlohmann::ordered_json(RunStore&, const httplib::Request&)> body) {
  return [&store, body](const httplib::Request& request, httplib::Response& response) {
    try {
      send_json(response, body(store, request));
    } catch (const HttpError& error) {
      send_error(response, error.status, error.message);
    } catch (const std::exception& error) {
      spdlog::error("serve: {} {}: {}", request.method, request.path, error.what());
      send_error(response, 500, error.what());
    }
  };
}

void add_api(httplib::Server& server, RunStore& store) {
  server.Get("/api/runs", api(store, [](RunStore& s, const httplib::Request& request) {
               nlohmann::ordered_json out = nlohmann::ordered_json::array();
               for (const RunRow& run : s.runs(request_filter(request)))
                 out.push_back(run_json(run, run_outcome(run, run.summary_json.empty() ? s.epochs(run.id)
                                                                                      : std::vector<EpochRecord>{})));
               return out;
             }));
  server.Get(R"(/api/runs/([^/]+))", api(store, [](RunStore& s, const httplib::Request& request) {
               const RunRow run = path_run(s, request);
               return nlohmann::ordered_json{{"run", run_json(run, run_outcome(run, s.epochs(run.id)))},
                                             {"parameters", parameters_json(s.parameters(run.id))}};
             }));
  server.Get(R"(/api/runs/([^/]+)/metrics)", api(store, [](RunStore& s, const httplib::Request& request) {
               const RunRow run = path_run(s, request);
               return metrics_json(s.metrics(run.id, request.get_param_value("key"),
                                             integer_param(request, "after", -1)));
             }));
  server.Get(R"(/api/runs/([^/]+)/epochs)", api(store, [](RunStore& s, const httplib::Request& request) {
               return epochs_json(s.epochs(path_run(s, request).id));
             }));
  server.Get(R"(/api/runs/([^/]+)/layer_stats)", api(store, [](RunStore& s, const httplib::Request& request) {
               const RunRow run = path_run(s, request);
               const int64_t after = integer_param(request, "after", -1);
               std::vector<LayerStatRow> rows;
               for (const LayerStatRow& row : s.layer_stats(run.id))
                 if (row.step > after) rows.push_back(row);
               return layer_stats_json(rows);
             }));
  server.Get(R"(/api(/.*)?)", [](const httplib::Request& request, httplib::Response& response) {
    send_error(response, 404, "no API endpoint '" + request.path + "'");
  });
}

const char* content_type(const std::string& name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// The pages: each URL maps to one embedded file; no path reaches the file system, so
// "/../../etc/passwd" and its encodings are only unknown names (404).
void add_pages(httplib::Server& server) {
  static const std::map<std::string, std::string> routes = {
      {"/", "index.html"},           {"/index.html", "index.html"}, {"/run", "run.html"},
      {"/run.html", "run.html"},     {"/compare", "compare.html"},  {"/compare.html", "compare.html"},
      {"/app.js", "app.js"},         {"/style.css", "style.css"}};
  for (const auto& [path, name] : routes) {
    const DashboardAsset* asset = nullptr;
    for (const DashboardAsset& candidate : dashboard_assets())
      if (name == candidate.name) asset = &candidate;
    CNN_CHECK(asset != nullptr, "serve: the dashboard file '", name, "' was not embedded at build time");
    server.Get(path, [asset](const httplib::Request&, httplib::Response& response) {
      response.set_header("X-Content-Type-Options", "nosniff");
      response.set_content(reinterpret_cast<const char*>(asset->data), asset->size, content_type(asset->name));
    });
  }
  server.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404 && response.body.empty())
      response.set_content("cnnlab serve: no page '" + request.path + "'\n", "text/plain; charset=utf-8");
  });
}

// SIGINT and SIGTERM are blocked in every thread (the server's inherit the mask) and taken
// here by sigtimedwait, so no handler runs inside the server's code.
void wait_for_stop_signal(const std::atomic<bool>& listening) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  const timespec tick{0, 200 * 1000 * 1000};
  while (listening.load()) {
    const int signal = sigtimedwait(&stop, nullptr, &tick);
    if (signal == SIGINT || signal == SIGTERM) {
      spdlog::info("serve: {} received, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
      return;
    }
  }
}

}  // namespace

int run_serve(const ServeOptions& options) {
  std::unique_ptr<RunStore> store = open_store_for_reading(options.store);
  // One connection for every request: RunStore serialises its calls with its own mutex, and
  // each call reads the store anew, so a running run's rows appear as they are committed.
  httplib::Server server;
  // SO_REUSEADDR alone: httplib's default SO_REUSEPORT would let a second `cnnlab serve`
  // share the port silently instead of failing to listen.
  server.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  add_api(server, *store);
  add_pages(server);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  const int port = options.port == 0 ? server.bind_to_any_port(options.host)
                                      : (server.bind_to_port(options.host, options.port) ? options.port : -1);
  CNN_CHECK(port > 0, "serve: cannot listen on ", options.host, ":", options.port,
            " (is the port in use, or the host not an address of this machine?)");
  std::atomic<bool> listening{true};
  std::thread listener([&] {
    server.listen_after_bind();
    listening = false;
  });
  std::printf("serving http://%s:%d/ (run store %s); Ctrl-C stops\n", options.host.c_str(), port,
              store->database().c_str());
  std::fflush(stdout);
  wait_for_stop_signal(listening);
  server.stop();
  listener.join();
  return 0;
}

}  // namespace cnn
