// The store spool (see store_spool.h).
#include "apps/store_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cnn {

void StoreSpool::append(const std::vector<StoreBatch>& batches) {
  if (batches.empty()) return;
  std::string text;
  for (const StoreBatch& batch : batches) text += batch_to_json(batch).dump() + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  CNN_CHECK(fd >= 0, "cannot open the store spool '", path_, "': ", std::strerror(errno));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      CNN_FAIL("cannot write the store spool '", path_, "': ", std::strerror(error));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  CNN_CHECK(synced, "cannot fsync the store spool '", path_, "': ", std::strerror(error));
}

bool StoreSpool::empty() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code ignored;
  return !std::filesystem::exists(path_, ignored) ||
         std::filesystem::file_size(path_, ignored) == 0;
}

std::vector<StoreBatch> StoreSpool::read() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return read_unlocked();
}

std::vector<StoreBatch> StoreSpool::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StoreBatch> batches = read_unlocked();
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
  return batches;
}

std::vector<StoreBatch> StoreSpool::read_unlocked() const {
  std::vector<StoreBatch> batches;
  std::ifstream file(path_);
  std::string line;
  size_t number = 0;
  while (std::getline(file, line)) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() && file.peek() == EOF) break;  // cut short by a crash
    CNN_CHECK(!parsed.is_discarded(), "store spool '", path_, "' line ", number,
              " is not JSON; remove the line or the file");
    batches.push_back(batch_from_json(parsed, path_ + " line " + std::to_string(number)));
  }
  return batches;
}

void StoreSpool::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

}  // namespace cnn
