// RFC 4180 CSV: a reader built on libcsv that keeps line numbers, and field quoting
// for writers.
//
// The reader accepts what real metadata files contain: quoted fields holding
// commas, doubled quotes and line breaks, CRLF or LF line ends, a UTF-8 byte order
// mark, a last line without a line end, and spaces kept as data (RFC 4180 says
// they are part of the field). It never guesses: a row whose field count differs
// from the header's, a quote where RFC 4180 forbids one, or a quoted field still
// open at the end of the file is left out of `rows` and reported in `issues` with
// the line it starts on, so callers can skip it and say so.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::data {

struct CsvRow {
  std::int64_t line = 0;  // 1-based line of the file where the row starts
  std::vector<std::string> fields;
};

struct CsvIssue {
  std::int64_t line = 0;
  std::string message;
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRow> rows;      // only rows with exactly header.size() fields
  std::vector<CsvIssue> issues;  // rows left out, in file order

  // Index of the header column `name`, or -1 when there is none.
  int column(std::string_view name) const;
};

CsvTable parse_csv(std::string_view text);
// Throws cxr::Error when the file cannot be read.
CsvTable read_csv(const std::filesystem::path& path);

// `field` as it must appear in a CSV line: quoted (quotes doubled) when it holds a
// comma, a quote, CR or LF, or starts or ends with a space; otherwise unchanged.
std::string csv_field(std::string_view field);

}  // namespace cxr::data
