#include "engine/data/csv.h"

#include "base/check.h"

#include <csv.h>

#include <fstream>
#include <sstream>

namespace cxr::data {

namespace {

// libcsv reports fields and row ends through callbacks but not where they are in
// the input. The text is fed one physical line at a time, so the line where each
// row starts is known when its first byte goes in.
struct Parse {
  CsvTable table;
  std::vector<std::string> fields;
  std::int64_t line = 0;       // line being fed
  std::int64_t row_start = 0;  // 0: no row open
  bool have_header = false;

  void end_row() {
    if (!have_header) {
      table.header = std::move(fields);
      have_header = true;
    } else if (fields.size() == table.header.size()) {
      table.rows.push_back({row_start, std::move(fields)});
    } else {
      table.issues.push_back(
          {row_start, fmt::format("{} fields, the header has {}{}", fields.size(), table.header.size(),
                                  fields.size() < table.header.size() ? " (truncated row)" : "")});
    }
    fields.clear();
    row_start = 0;
  }
};

void on_field(void* s, std::size_t len, void* data) {
  auto* p = static_cast<Parse*>(data);
  if (p->row_start == 0) p->row_start = p->line;
  p->fields.emplace_back(static_cast<const char*>(s), len);
}

void on_row(int, void* data) {
  auto* p = static_cast<Parse*>(data);
  if (p->row_start == 0) p->row_start = p->line;
  p->end_row();
}

int no_space(unsigned char) {
  return 0;
}  // RFC 4180: spaces are part of a field

// A libcsv parser in strict mode: a quote inside an unquoted field, text after a
// closing quote, or an unclosed quote at the end are errors, never guesses.
struct Parser {
  csv_parser p;
  Parser() {
    CXR_CHECK(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) == 0, "csv: cannot initialise libcsv");
    csv_set_space_func(&p, no_space);
  }
  ~Parser() { csv_free(&p); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
};

bool only_line_end(std::string_view s) {
  return s.find_first_not_of("\r\n") == std::string_view::npos;
}

}  // namespace

int CsvTable::column(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

CsvTable parse_csv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  Parse state;
  auto parser = std::make_unique<Parser>();
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    const std::size_t end = eol == std::string_view::npos ? text.size() : eol + 1;
    const std::string_view line = text.substr(pos, end - pos);
    pos = end;
    ++state.line;
    if (state.row_start == 0 && !only_line_end(line)) state.row_start = state.line;
    const std::size_t used = csv_parse(&parser->p, line.data(), line.size(), on_field, on_row, &state);
    if (used < line.size()) {
      // Report the malformed row and resume at the next line with a fresh parser.
      state.table.issues.push_back(
          {state.row_start ? state.row_start : state.line,
           fmt::format("malformed quoting on line {} (a quote inside an unquoted field or text after "
                       "a closing quote)",
                       state.line)});
      state.fields.clear();
      state.row_start = 0;
      parser = std::make_unique<Parser>();
    }
  }
  if (csv_fini(&parser->p, on_field, on_row, &state) != 0) {
    state.table.issues.push_back({state.row_start, "quoted field not closed at the end of the file (truncated file?)"});
  }
  return std::move(state.table);
}

CsvTable read_csv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), "csv: cannot open {}", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  CXR_CHECK(!in.bad(), "csv: error reading {}", path.string());
  return parse_csv(buffer.str());
}

std::string csv_field(std::string_view field) {
  const bool quote = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!quote) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace cxr::data
