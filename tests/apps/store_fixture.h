// Support for the `cnnlab runs` and `cnnlab serve` tests: a run store filled by a real tiny
// experiment (bn, plain, and a plain run that diverges), the `cnnlab serve` program started
// on a free loopback port, and a raw HTTP GET that sends a path exactly as written (an HTTP
// client library may normalise "/../"). Header-inline, as the other test helpers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "apps/compare.h"
#include "tests/apps/cnnlab_process.h"
#include "tests/apps/tiny_cifar.h"

namespace cnn::apptest {

// The experiment "norms" over the tiny dataset, 2 epochs of 4 steps each, layer statistics
// every 2 steps, run in this process; each variant's run is named as the variant. Returns
// the store's URL.
inline std::string fill_store(const cnn::testing::TempDir& tmp) {
  using cnn::testing::tiny_config_yaml;
  using cnn::testing::write_text;
  cnn::testing::write_tiny_cifar(tmp / "data", 128, 64);
  write_text(tmp / "models/base.yaml",
             tiny_config_yaml(tmp / "data", "batch", 2, 0.05, "layer_stats_every: 2"));
  write_text(tmp / "experiments/norms.yaml",
             "name: norms\n"
             "base: ../models/base.yaml\n"
             "variants:\n"
             "  - {name: bn,    set: {model.norm: batch, name: bn}}\n"
             "  - {name: plain, set: {model.norm: none, name: plain}}\n"
             "  - {name: blowup, set: {model.norm: none, optim.lr: 1.0e4, name: blowup}}\n");
  cnn::CompareOptions options;
  options.out_dir = tmp / "runs/norms";
  options.store = "sqlite:" + (tmp / "runs/runs.db");  // named, whatever CNNLAB_STORE says
  options.quiet = true;
  cnn::run_comparison(tmp / "experiments/norms.yaml", options);
  return options.store;
}

// `cnnlab serve --store STORE --port 0` once it listens: its process and port.
struct ServeProcess {
  std::unique_ptr<CnnlabProcess> process;
  int port = 0;
  std::string url;  // "http://127.0.0.1:PORT"
};

inline ServeProcess start_serve(const std::string& binary, const std::string& store) {
  ServeProcess serve;
  serve.process = std::make_unique<CnnlabProcess>(
      binary, std::vector<std::string>{"serve", "--store", store, "--port", "0"});
  const bool listening = serve.process->wait_for_output("serving http://", 30000) &&
                         serve.process->wait_for_output("/ (run store", 5000);
  INFO(serve.process->output());
  REQUIRE(listening);
  const std::string& output = serve.process->output();
  const size_t at = output.find("serving http://") + std::string("serving http://").size();
  const size_t colon = output.find(':', at);
  serve.port = std::stoi(output.substr(colon + 1));
  serve.url = "http://" + output.substr(at, colon - at) + ":" + std::to_string(serve.port);
  return serve;
}

// `text` as one shell word.
inline std::string shell_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// "GET PATH HTTP/1.1" sent byte for byte to 127.0.0.1:port; the whole response (status
// line, headers, body) or "" when the connection fails.
inline std::string raw_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char chunk[4096];
      for (ssize_t got; (got = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) response.append(chunk, got);
    }
  }
  ::close(fd);
  return response;
}

// The status code of a raw response ("HTTP/1.1 404 Not Found" -> 404), or 0.
inline int raw_status(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::stoi(response.substr(response.find(' ') + 1, 3));
}

}  // namespace cnn::apptest
