// The CSV reader (engine/data/csv.h) and what reads metadata through it: the
// ieee8023 finding and view tables, Kermany file names, and the dataset manifest
// reader (data/manifest.h, on the parsed table: no file per input). A parsed table keeps only
// rows with the header's field count, in file order.
#include "fuzz_support.h"

#include "data/ieee8023.h"
#include "data/kermany.h"
#include "data/manifest.h"
#include "engine/data/csv.h"

#include <algorithm>
#include <string>

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

  // The manifest reader on the table parsed above: read_manifest is read_csv (file
  // bytes, then parse_csv) and then this, so only the file read is left out.
  for (int classes : {3, 4}) {
    try {
      cxr::data::parse_manifest(table, "fuzz-manifest.csv", classes);
    } catch (const cxr::Error&) {
    }
  }
  return 0;
}
