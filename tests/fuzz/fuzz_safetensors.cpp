// The safetensors loader (engine/io/safetensors.h) on untrusted files. The input is
// written to an in-memory file (memfd) and loaded through /proc/self/fd, so the
// loader's own open/fstat/pread path runs with no disk in between. A loaded file's
// tensors must hold exactly the bytes their shapes say.
#include "fuzz_support.h"

#include "engine/io/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace {

int memory_file() {
  static const int fd = memfd_create("fuzz.safetensors", 0);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memory_file();
  if (fd < 0 || ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  try {
    const cxr::SafetensorsFile file = cxr::load_safetensors("/proc/self/fd/" + std::to_string(fd));
    std::size_t total = 0;
    for (const auto& [name, tensor] : file.tensors) total += tensor.numel() * cxr::dtype_size(tensor.dtype());
    if (total > size) __builtin_trap();  // more tensor data than the file holds
  } catch (const cxr::Error&) {
  }
  return 0;
}
