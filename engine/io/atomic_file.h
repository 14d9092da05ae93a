// Writing a file so that readers see either the old file or the complete new one:
// the bytes go to `path`.tmp-<pid>, are flushed to disk, and the temporary file is
// renamed over `path` (atomic on POSIX file systems). On failure the temporary file
// is removed and `path` is untouched.
#pragma once

#include <string>
#include <string_view>

namespace cxr {

// Throws cxr::Error naming the file and the system's reason.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace cxr
