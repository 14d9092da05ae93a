// The CSV reader (engine/data/csv.h) and what reads metadata through it: the
// ieee8023 finding and view tables, Kermany file names, and the dataset manifest
// reader (data/manifest.h, loaded from an in-memory file). A parsed table keeps only
// rows with the header's field count, in file order.
#include "fuzz_support.h"

#include "data/ieee8023.h"
#include "data/kermany.h"
#include "data/manifest.h"
#include "engine/data/csv.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace {

int memory_file() {
  static const int fd = memfd_create("fuzz-manifest.csv", 0);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const cxr::data::CsvTable table = cxr::data::parse_csv(cxr::fuzz::text(data, size));
  std::int64_t last_line = 0;
  for (const auto& row : table.rows) {
    if (row.fields.size() != table.header.size() || row.line < std::max<std::int64_t>(1, last_line))
      __builtin_trap();  // rows in file order (a bare CR ends a row too: two rows may share a line)
    last_line = row.line;
    for (const auto& field : row.fields) {
      cxr::data::finding_rule(field);
      cxr::data::frontal_view(field);
      cxr::data::parse_kermany_name(field);
    }
  }
  for (const auto& name : table.header) (void)table.column(name);

  const int fd = memory_file();
  if (fd < 0 || ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  for (int classes : {3, 4}) {
    try {
      cxr::data::read_manifest("/proc/self/fd/" + std::to_string(fd), classes);
    } catch (const cxr::Error&) {
    }
  }
  return 0;
}
