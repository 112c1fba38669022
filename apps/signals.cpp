// Signal handling for graceful stops.
#include "apps/signals.h"

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <unistd.h>

namespace cnn {

namespace {
std::atomic<int> requested_signal{0};
std::atomic<bool> console_release{false};

// fcntl is async-signal-safe.
void make_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

extern "C" void on_stop_signal(int signal) {
  if (requested_signal.exchange(signal) != 0) {
    // Second signal: leave now. Only async-signal-safe calls here.
    const char message[] = "\ncnnlab: second interrupt, exiting immediately\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
    _exit(130);
  }
  if (console_release.load()) {
    make_nonblocking(STDOUT_FILENO);
    make_nonblocking(STDERR_FILENO);
  }
}
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void release_console_on_stop() { console_release.store(true); }

bool stop_requested() { return requested_signal.load() != 0; }
void request_stop(int signal) {
  int none = 0;
  requested_signal.compare_exchange_strong(none, signal);
}
void clear_stop_request() { requested_signal.store(0); }
int stop_signal() { return requested_signal.load(); }

}  // namespace cnn
