// The run's log (see run_logger.h).
#include "apps/run_logger.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <vector>

namespace cnn {

namespace {
constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S] [%l] %v";
}

RunLogger::RunLogger(const std::string& log_path, bool quiet)
    : previous_(spdlog::default_logger()) {
  file_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_path, false);
  std::vector<spdlog::sink_ptr> sinks{file_};
  if (!quiet) sinks.push_back(std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("cnnlab", sinks.begin(), sinks.end());
  logger->set_pattern(kPattern);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

RunLogger::~RunLogger() { spdlog::set_default_logger(previous_); }

void RunLogger::error_to_file(const std::string& message) noexcept {
  try {
    spdlog::logger file_only("cnnlab", file_);
    file_only.set_pattern(kPattern);
    file_only.set_error_handler([](const std::string&) {});  // a full disk: stay silent
    file_only.error("{}", message);
    file_only.flush();
  } catch (...) {
    // train.log may be on the disk that just failed: nothing more to do.
  }
}

}  // namespace cnn
