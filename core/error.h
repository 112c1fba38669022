// Errors in cnnlab are exceptions whose message is a sentence: what was expected,
// what was found, and where. CNN_CHECK and CNN_FAIL throw cnn::Error whose message is their
// arguments streamed together, nothing added (no source location): the message itself must
// name the op, layer, key or file.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cnn {

// Thrown for every user-facing error (bad shapes, bad configs, bad files).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace cnn

// CNN_CHECK(cond, "op: expected ...", value, "...") throws cnn::Error when cond is false.
#define CNN_CHECK(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) throw ::cnn::Error(::cnn::detail::concat(__VA_ARGS__)); \
  } while (0)

#define CNN_FAIL(...) throw ::cnn::Error(::cnn::detail::concat(__VA_ARGS__))
