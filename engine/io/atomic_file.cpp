#include "engine/io/atomic_file.h"

#include "base/check.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cxr {

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  auto fail = [&](std::string_view what) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(fmt::format("{} failed: {}", what, reason));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("cannot create '{}': {}", tmp, std::strerror(errno)));
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail(fmt::format("writing '{}'", tmp));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail(fmt::format("fsync of '{}'", tmp));
  }
  if (::close(fd) != 0) fail(fmt::format("closing '{}'", tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(fmt::format("renaming '{}' to '{}'", tmp, path));
}

}  // namespace cxr
