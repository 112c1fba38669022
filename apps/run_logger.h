// The run's log: the console (unless quiet) and train.log in the run directory, installed
// as spdlog's default logger for the run's duration.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace cnn {

class RunLogger {
 public:
  RunLogger(const std::string& log_path, bool quiet);
  ~RunLogger();
  RunLogger(const RunLogger&) = delete;
  RunLogger& operator=(const RunLogger&) = delete;

  // An error for train.log alone: the console gets it from main's "cnnlab: error:" line.
  // Never throws (train.log may be on the disk that just failed).
  void error_to_file(const std::string& message) noexcept;

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::sink> file_;
};

}  // namespace cnn
