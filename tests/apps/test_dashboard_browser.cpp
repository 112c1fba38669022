// The dashboard in a real browser: headless Chromium (driven by tests/apps/dashboard_browser.js
// through playwright-core, installed into the build folder by scripts/test.sh) opens the run
// page of a run that is training, sees its loss chart with points, and sees more appear as the
// run advances; then the compare page of BN, no-BN and the live run. Both screenshots are kept
// in the build folder (the test prints their paths). Without node, Chromium or playwright-core
// the test is skipped with the reason.
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/apps/store_fixture.h"

using namespace cnn::apptest;
using Catch::Contains;

namespace {

// The browser's pieces, or "" after a WARN naming the one missing.
struct Browser {
  std::string chromium, modules;
};
Browser find_browser() {
  Browser found;
  const char* chromium = std::getenv("CNNLAB_CHROMIUM");
  const char* modules = std::getenv("CNNLAB_BROWSER_MODULES");
  found.chromium = chromium ? chromium : "/usr/bin/chromium";
  found.modules = modules ? modules : CNNLAB_BINARY_DIR "/browser_tools/node_modules";
  if (cnn::testing::run_command("node --version >/dev/null 2>&1").status != 0) {
    WARN("skipped the browser test: node is not installed (scripts/test.sh installs it)");
    return {};
  }
  if (::access(found.chromium.c_str(), X_OK) != 0) {
    WARN("skipped the browser test: no Chromium at " << found.chromium
                                                     << " (Debian package chromium, or set CNNLAB_CHROMIUM)");
    return {};
  }
  if (!fs::exists(fs::path(found.modules) / "playwright-core")) {
    WARN("skipped the browser test: no playwright-core in " << found.modules
                                                            << " (scripts/test.sh installs it)");
    return {};
  }
  return found;
}

// The id of the run named `name` once the store has it with at least one loss row, or "".
std::string wait_for_live_run(int port, const std::string& name, int timeout_ms) {
  httplib::Client client("127.0.0.1", port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (httplib::Result runs = client.Get("/api/runs?status=running"))
      for (const nlohmann::json& run : nlohmann::json::parse(runs->body, nullptr, false))
        if (run.is_object() && run["name"] == name) {
          const std::string id = run["id"].get<std::string>();
          httplib::Result loss = client.Get(("/api/runs/" + id + "/metrics?key=loss").c_str());
          if (loss && nlohmann::json::parse(loss->body, nullptr, false).size() > 0) return id;
        }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return "";
}

}  // namespace

TEST_CASE("dashboard: a training run's page in Chromium gains points as the run advances",
          "[apps][serve][browser]") {
  const std::string binary = cnnlab_binary();
  if (binary.empty()) return;
  const Browser browser = find_browser();
  if (browser.chromium.empty()) return;
  cnn::testing::TempDir tmp("cnnlab_browser");
  const std::string store = fill_store(tmp);  // bn, plain, blowup: finished
  // The live run: many small steps (1,000 images in batches of 4, 1,000 epochs), far longer
  // than the test, which stops it.
  cnn::testing::write_tiny_cifar(tmp / "live_data", 1000, 16);
  cnn::testing::write_text(tmp / "models/live.yaml",
                           cnn::testing::tiny_config_yaml(tmp / "live_data", "batch", 1000, 0.01));
  CnnlabProcess training(binary, {"train", "--config", tmp / "models/live.yaml", "--set", "name=live",
                                  "--set", "data.batch_size=4", "--set", "train.layer_stats_every=100",
                                  "--out", tmp / "runs/live",
                                  "--store", store});
  ServeProcess serve = start_serve(binary, store);
  const std::string live = wait_for_live_run(serve.port, "live", 60000);
  INFO(training.output());
  REQUIRE_FALSE(live.empty());

  httplib::Client client("127.0.0.1", serve.port);
  std::string ids = live;
  for (const nlohmann::json& run : nlohmann::json::parse(client.Get("/api/runs")->body))
    if (run["name"] == "bn" || run["name"] == "plain") ids += "," + run["id"].get<std::string>();

  const std::string artifacts = CNNLAB_BINARY_DIR "/test_artifacts";
  fs::create_directories(artifacts);
  const std::string run_png = artifacts + "/dashboard_run.png", compare_png = artifacts + "/dashboard_compare.png";
  fs::remove(run_png);
  fs::remove(compare_png);
  const std::string script = CNNLAB_SOURCE_DIR "/tests/apps/dashboard_browser.js";
  const cnn::testing::CommandResult result = cnn::testing::run_command(
      "NODE_PATH=" + shell_quoted(browser.modules) + " node " + shell_quoted(script) + " " +
      shell_quoted(browser.chromium) + " " + shell_quoted(serve.url) + " " + live + " " + ids + " " +
      shell_quoted(run_png) + " " + shell_quoted(compare_png) + " 2>&1");
  training.send(SIGINT);
  training.wait(60000);
  INFO(result.output);
  REQUIRE(result.status == 0);
  const nlohmann::json seen = nlohmann::json::parse(result.output.substr(result.output.rfind("{\"first\"")));
  CHECK(seen["first"].get<int>() > 0);
  CHECK(seen["second"].get<int>() > seen["first"].get<int>());
  CHECK(seen["layers"].get<int>() > 0);  // the layer statistics chart too
  CHECK(seen["compare"].get<int>() > seen["second"].get<int>());  // bn's and plain's curves too
  CHECK_THAT(seen["legend"].get<std::string>(), Contains("bn") && Contains("plain") && Contains("live"));
  CHECK(seen["errors"].empty());
  CHECK(cnn::testing::is_png(run_png));
  CHECK(cnn::testing::is_png(compare_png));
  std::printf("dashboard screenshots: %s %s\n", run_png.c_str(), compare_png.c_str());
}
