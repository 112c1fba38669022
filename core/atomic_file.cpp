// Atomic file writes through POSIX calls, so that every write, fsync and close result is
// checked (std::ofstream hides ENOSPC until close, and its close result is easy to ignore).
#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <streambuf>
#include <vector>

#include "core/error.h"

namespace cnn {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, const std::string& step,
                       int error_number) {
  CNN_FAIL("cannot write ", what, " '", path, "': ", step.empty() ? "" : step + ": ",
           std::strerror(error_number));
}

// Writes all of [data, data + size), retrying partial writes and EINTR. Returns 0 or errno.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (written == 0) return EIO;  // should not happen for regular files; never loop forever
    data += written;
    size -= static_cast<size_t>(written);
  }
  return 0;
}

// A stream buffer over a file descriptor that remembers the first write error (errno).
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd), buffer_(1 << 16) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  int error() const { return error_; }
  // Pushes the buffered bytes to the file; false after any error.
  bool drain() {
    if (error_) return false;
    size_t pending = static_cast<size_t>(pptr() - pbase());
    if (pending > 0) error_ = write_all(fd_, pbase(), pending);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return error_ == 0;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* data, std::streamsize count) override {
    // Large blocks (tensor data) bypass the buffer.
    if (static_cast<size_t>(count) >= buffer_.size()) {
      if (!drain()) return 0;
      error_ = write_all(fd_, data, static_cast<size_t>(count));
      return error_ ? 0 : count;
    }
    return std::streambuf::xsputn(data, count);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  int fd_;
  int error_ = 0;
  std::vector<char> buffer_;
};

std::string temporary_path_for(const std::string& path) {
  // The counter keeps two writers of one path in the same process apart.
  static std::atomic<unsigned long> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

std::string parent_folder(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Removes the temporary file when the write did not complete.
struct TemporaryFile {
  std::string path;
  int fd = -1;
  bool renamed = false;
  ~TemporaryFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed) ::unlink(path.c_str());
  }
};

void write_atomically(const std::string& path, const std::string& what,
                      const std::function<int(int fd)>& produce) {
  TemporaryFile temporary{temporary_path_for(path)};
  temporary.fd = ::open(temporary.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (temporary.fd < 0) {
    int error_number = errno;
    temporary.renamed = true;  // nothing was created, nothing to remove
    fail(what, path, "", error_number);
  }
  if (int error_number = produce(temporary.fd)) fail(what, path, "", error_number);
  if (::fsync(temporary.fd) != 0) fail(what, path, "fsync", errno);
  int fd = temporary.fd;
  temporary.fd = -1;
  // close can report a deferred write error (NFS, quota): the content may be incomplete.
  if (::close(fd) != 0) fail(what, path, "close", errno);
  if (::rename(temporary.path.c_str(), path.c_str()) != 0) fail(what, path, "rename", errno);
  temporary.renamed = true;

  // Make the rename itself durable. Some filesystems cannot fsync a folder (EINVAL); the file
  // is complete and in place then, so that alone is not an error.
  std::string folder = parent_folder(path);
  int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd < 0) fail(what, path, "open folder '" + folder + "'", errno);
  int sync_result = ::fsync(folder_fd);
  int sync_errno = errno;
  ::close(folder_fd);
  if (sync_result != 0 && sync_errno != EINVAL && sync_errno != EROFS)
    fail(what, path, "fsync folder '" + folder + "'", sync_errno);
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::string& what) {
  write_atomically(path, what, [&](int fd) { return write_all(fd, bytes.data(), bytes.size()); });
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           const std::string& what) {
  write_atomically(path, what, [&](int fd) {
    FdStreamBuf buffer(fd);
    std::ostream out(&buffer);
    write(out);
    out.flush();
    if (buffer.error()) return buffer.error();
    if (!buffer.drain()) return buffer.error();
    // A failure the stream saw that was not an I/O error of ours (e.g. a bad formatter).
    return out.fail() ? EIO : 0;
  });
}

std::string read_file(const std::string& path, const std::string& what) {
  auto fail_read = [&](int error_number) {
    CNN_FAIL("cannot read ", what, " '", path, "': ", std::strerror(error_number));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_read(errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int error_number = errno;
    ::close(fd);
    fail_read(error_number);
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    fail_read(EISDIR);
  }
  std::string content;
  if (S_ISREG(info.st_mode)) content.reserve(static_cast<size_t>(info.st_size));
  char chunk[1 << 16];
  while (true) {
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0) {
      if (errno == EINTR) continue;
      int error_number = errno;
      ::close(fd);
      fail_read(error_number);
    }
    if (got == 0) break;
    content.append(chunk, static_cast<size_t>(got));
  }
  ::close(fd);
  return content;
}

}  // namespace cnn
