// Signal handling for graceful stops.
#include "apps/signals.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace cnn {

namespace {
std::atomic<int> requested_signal{0};

extern "C" void on_stop_signal(int signal) {
  if (requested_signal.exchange(signal) != 0) {
    // Second signal: leave now. Only async-signal-safe calls here.
    const char message[] = "\ncnnlab: second interrupt, exiting immediately\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
    _exit(130);
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

bool stop_requested() { return requested_signal.load() != 0; }
void clear_stop_request() { requested_signal.store(0); }
int stop_signal() { return requested_signal.load(); }

}  // namespace cnn
