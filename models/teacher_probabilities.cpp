#include "models/teacher_probabilities.h"

#include "base/check.h"
#include "engine/data/csv.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace cxr {

namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

TeacherProbabilities TeacherProbabilities::read(const std::filesystem::path& path,
                                                const std::vector<std::string>& class_names) {
  const data::CsvTable table = data::read_csv(path);
  const std::string file = path.string();
  CXR_CHECK(table.issues.empty(), "{}: line {}: {}", file, table.issues.empty() ? 0 : table.issues[0].line,
            table.issues.empty() ? "" : table.issues[0].message);
  const int id_column = table.column("id");
  CXR_CHECK(id_column >= 0, "{}: no 'id' column in the header", file);
  std::vector<int> columns;
  for (const std::string& name : class_names) {
    columns.push_back(table.column(name));
    CXR_CHECK(columns.back() >= 0, "{}: no column for the model's class '{}'", file, name);
  }
  TeacherProbabilities out;
  out.path_ = path;
  out.classes_ = class_names.size();
  for (const data::CsvRow& row : table.rows) {
    std::int64_t id = 0;
    CXR_CHECK(parse_number(row.fields[id_column], id), "{}: line {}: id '{}' is not an integer", file, row.line,
              row.fields[id_column]);
    std::vector<float> p;
    double sum = 0;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      double v = 0;
      const std::string& text = row.fields[columns[c]];
      CXR_CHECK(parse_number(text, v) && std::isfinite(v) && v >= 0 && v <= 1,
                "{}: line {}: probability of '{}' is '{}', expected a number in [0, 1]", file, row.line, class_names[c],
                text);
      p.push_back(static_cast<float>(v));
      sum += v;
    }
    CXR_CHECK(std::abs(sum - 1) <= 1e-3, "{}: line {}: the probabilities sum to {}, not 1", file, row.line, sum);
    CXR_CHECK(out.by_id_.emplace(id, std::move(p)).second, "{}: line {}: image id {} appears twice", file, row.line,
              id);
  }
  CXR_CHECK(!out.by_id_.empty(), "{}: no rows", file);
  return out;
}

void TeacherProbabilities::check_covers(const data::Dataset& dataset, const std::vector<std::int64_t>& indices) const {
  std::int64_t missing = 0, first = -1;
  for (auto i : indices)
    if (by_id_.count(dataset.row(i).id) == 0 && missing++ == 0) first = dataset.row(i).id;
  CXR_CHECK(missing == 0, "{}: {} of the {} training images have no teacher probabilities (first: id {})",
            path_.string(), missing, indices.size(), first);
}

Tensor TeacherProbabilities::targets(const data::Dataset& dataset, const std::vector<std::int64_t>& indices,
                                     Device device) const {
  std::vector<float> values;
  values.reserve(indices.size() * classes_);
  for (auto i : indices) {
    const auto it = by_id_.find(dataset.row(i).id);
    CXR_CHECK(it != by_id_.end(), "{}: image id {} has no teacher probabilities", path_.string(), dataset.row(i).id);
    values.insert(values.end(), it->second.begin(), it->second.end());
  }
  return Tensor::from_vector(values, {static_cast<std::int64_t>(indices.size()), static_cast<std::int64_t>(classes_)})
      .to(device);
}

}  // namespace cxr
