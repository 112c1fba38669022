// `cnnlab serve`'s JSON API and pages through a plain HTTP client (cpp-httplib's), against
// the program started on a free loopback port over a store a real tiny experiment filled:
// runs with filters, one run, its metrics after a step, epochs and layer statistics; 404s
// for unknown runs and paths, 400s for bad parameters, no file outside the embedded pages
// whatever the path, nothing but GET, and a clean stop on SIGINT.
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/apps/store_fixture.h"

using namespace cnn::apptest;
using Catch::Contains;

namespace {

struct Reply {
  int status = 0;
  std::string type;
  nlohmann::json json;  // discarded unless the body is JSON
  std::string body;
};

Reply get(httplib::Client& client, const std::string& path) {
  Reply reply;
  httplib::Result result = client.Get(path.c_str());
  REQUIRE(result);
  reply.status = result->status;
  reply.type = result->get_header_value("Content-Type");
  reply.body = result->body;
  reply.json = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  return reply;
}

std::string id_of(const nlohmann::json& runs, const std::string& name) {
  for (const nlohmann::json& run : runs)
    if (run["name"] == name) return run["id"].get<std::string>();
  FAIL("no run '" << name << "' in " << runs.dump());
  return "";
}

}  // namespace

TEST_CASE("serve: the runs API with filters, one run, its metrics, epochs and layer statistics",
          "[apps][serve]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_serve");
  ServeProcess serve = start_serve(binary, fill_store(tmp));
  CHECK_THAT(serve.url, Contains("http://127.0.0.1:"));  // loopback unless --host
  httplib::Client client("127.0.0.1", serve.port);

  Reply all = get(client, "/api/runs");
  REQUIRE(all.status == 200);
  CHECK_THAT(all.type, Contains("application/json"));
  REQUIRE(all.json.size() == 3);
  CHECK(all.json[0]["experiment"] == "norms");
  CHECK(get(client, "/api/runs?where=model.norm=none").json.size() == 2);
  CHECK(get(client, "/api/runs?where=model.norm%3Dnone").json.size() == 2);  // as browsers send it
  CHECK(get(client, "/api/runs?where=model.norm=none&where=optim.lr=0.05").json.size() == 1);
  CHECK(get(client, "/api/runs?status=diverged").json.size() == 1);
  CHECK(get(client, "/api/runs?experiment=norms&status=completed").json.size() == 2);
  CHECK(get(client, "/api/runs?experiment=other").json.empty());

  const std::string bn = id_of(all.json, "bn");
  Reply run = get(client, "/api/runs/" + bn);
  REQUIRE(run.status == 200);
  CHECK(run.json["run"]["id"] == bn);
  CHECK(run.json["run"]["status"] == "completed");
  CHECK(run.json["parameters"]["model.norm"] == "batch");

  Reply loss = get(client, "/api/runs/" + bn + "/metrics?key=loss");
  REQUIRE(loss.status == 200);
  std::vector<int64_t> steps;
  for (const nlohmann::json& m : loss.json) {
    CHECK(m["key"] == "loss");
    CHECK(m["value"].is_number());
    steps.push_back(m["step"].get<int64_t>());
  }
  CHECK(steps == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  Reply after = get(client, "/api/runs/" + bn + "/metrics?key=loss&after=5");
  REQUIRE(after.json.size() == 2);
  CHECK(after.json[0]["step"] == 6);
  std::set<std::string> keys;
  for (const nlohmann::json& m : get(client, "/api/runs/" + bn + "/metrics?after=6").json) {
    CHECK(m["step"] == 7);
    keys.insert(m["key"].get<std::string>());
  }
  CHECK(keys == std::set<std::string>{"accuracy", "loss", "lr"});

  Reply epochs = get(client, "/api/runs/" + bn + "/epochs");
  REQUIRE(epochs.json.size() == 2);
  CHECK(epochs.json[1]["epoch"] == 2);
  CHECK(epochs.json[1]["test_acc"].is_number());

  Reply stats = get(client, "/api/runs/" + bn + "/layer_stats");
  REQUIRE(stats.status == 200);
  REQUIRE_FALSE(stats.json.empty());
  std::set<std::string> kinds;
  for (const nlohmann::json& s : stats.json) kinds.insert(s["kind"].get<std::string>());
  CHECK(kinds.count("activation_std") == 1);
  const int64_t last = stats.json.back()["step"].get<int64_t>();
  for (const nlohmann::json& s : get(client, "/api/runs/" + bn + "/layer_stats?after=" +
                                                 std::to_string(last - 1)).json)
    CHECK(s["step"] == last);

  Reply page = get(client, "/");
  CHECK(page.status == 200);
  CHECK_THAT(page.type, Contains("text/html"));
  CHECK_THAT(page.body, Contains("<script src=\"/app.js\">"));
  CHECK_THAT(get(client, "/app.js").type, Contains("javascript"));
  CHECK(get(client, "/run?id=" + bn).status == 200);
  CHECK(get(client, "/compare?ids=" + bn).status == 200);
  CHECK(get(client, "/style.css").status == 200);
}

TEST_CASE("serve: unknown runs and paths are 404s, bad parameters 400s, never a file",
          "[apps][serve]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_serve");
  ServeProcess serve = start_serve(binary, fill_store(tmp));
  httplib::Client client("127.0.0.1", serve.port);

  for (const char* path : {"/api/runs/424242", "/api/runs/424242/metrics", "/api/runs/bn",
                                 "/api/runs/1%20OR%201=1/epochs", "/api/runs/424242/layer_stats",
                                 "/api/nothing"}) {
    INFO(path);
    Reply reply = get(client, path);
    CHECK(reply.status == 404);
    CHECK_THAT(reply.type, Contains("application/json"));
    REQUIRE(reply.json.is_object());
    CHECK(reply.json["error"].is_string());
  }
  CHECK_THAT(get(client, "/api/runs/424242").json["error"].get<std::string>(), Contains("424242"));

  const std::string bn = id_of(get(client, "/api/runs").json, "bn");
  for (const std::string& path : std::vector<std::string>{"/api/runs?where=model.norm", "/api/runs/" + bn + "/metrics?after=x",
                                 "/api/runs/" + bn + "/layer_stats?after=1e3"}) {
    INFO(path);
    Reply reply = get(client, path);
    CHECK(reply.status == 400);
    CHECK(reply.json["error"].is_string());
  }

  // Paths that would leave the assets, sent byte for byte: a 4xx, and no file's contents.
  for (const char* path : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                 "/..%2f..%2f..%2fetc%2fpasswd", "/app.js/../../../etc/passwd",
                                 "/dashboard/app.js", "/apps/dashboard/index.html", "/main.cpp",
                                 "//etc/passwd", "/%2e%2e%5c%2e%2e%5cetc%5cpasswd"}) {
    INFO(path);
    const std::string response = raw_get(serve.port, path);
    const int status = raw_status(response);
    CHECK(status >= 400);
    CHECK(status < 500);
    CHECK_THAT(response, !Contains("root:") && !Contains("#include"));
  }

  // Read-only: nothing but GET (and HEAD) is routed.
  httplib::Result post = client.Post("/api/runs", "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status >= 400);
  CHECK(post->status < 500);
  httplib::Result remove = client.Delete(("/api/runs/" + bn).c_str());
  REQUIRE(remove);
  CHECK(remove->status >= 400);
  CHECK(get(client, "/api/runs").json.size() == 3);
}

TEST_CASE("serve: SIGINT stops it cleanly, and a missing store or a taken port is an error",
          "[apps][serve]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_serve");
  const std::string store = fill_store(tmp);
  ServeProcess serve = start_serve(binary, store);
  {
    httplib::Client client("127.0.0.1", serve.port);
    REQUIRE(client.Get("/api/runs"));
  }
  // The port it holds cannot be taken twice.
  std::string output;
  ExitStatus taken = run_cnnlab(binary, {"serve", "--store", store, "--port", std::to_string(serve.port)}, output);
  CHECK(taken.code == 1);
  CHECK_THAT(output, Contains("cannot listen on 127.0.0.1:" + std::to_string(serve.port)));

  serve.process->send(SIGINT);
  ExitStatus stopped = serve.process->wait(15000);
  INFO(serve.process->output());
  CHECK(stopped.exited);
  CHECK(stopped.code == 0);
  CHECK_THAT(serve.process->output(), Contains("stopping"));

  ExitStatus missing = run_cnnlab(binary, {"serve", "--store", tmp / "nothing/runs.db", "--port", "0"}, output);
  CHECK(missing.code == 1);
  CHECK_THAT(output, Contains(tmp / "nothing/runs.db") && Contains("does not exist"));
}
