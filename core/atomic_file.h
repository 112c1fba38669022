// Crash-safe file writes: the target path holds either its old content or the complete new
// content, never a torn mix, and every failure (full disk, missing folder) is an error.
//
//   write_file_atomically("runs/x/checkpoint.safetensors", bytes, "checkpoint");
//   write_file_atomically(path, [&](std::ostream& out) { out << header; }, "report");
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace cnn {

// Writes `bytes` to a temporary file beside `path` (path + ".tmp.<pid>.<n>"), fsyncs it,
// renames it over `path` and fsyncs the folder. On any failure the temporary file is removed,
// `path` keeps its previous content, and cnn::Error says "cannot write <what> '<path>': <reason>".
void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::string& what = "file");

// Streaming form: `write` produces the content into a stream that goes straight to the
// temporary file (no copy of the whole content in memory). Every write is checked; an
// exception thrown by `write` also removes the temporary file and propagates unchanged.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           const std::string& what = "file");

// Reads a whole regular file; cnn::Error "cannot read <what> '<path>': <reason>" otherwise.
std::string read_file(const std::string& path, const std::string& what = "file");

}  // namespace cnn
