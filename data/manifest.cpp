#include "data/manifest.h"

#include "base/check.h"
#include "data/labels.h"
#include "engine/data/csv.h"
#include "engine/data/text.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

namespace cxr::data {

namespace {
constexpr const char* kColumns[] = {"id", "source", "source_path", "patient", "label", "split", "view", "sha256"};
}

void write_manifest(const std::filesystem::path& path, const std::vector<ManifestRow>& rows, int num_classes) {
  const auto& names = target_names(num_classes);
  std::ofstream out(path, std::ios::binary);
  CXR_CHECK(out.good(), "manifest: cannot create {}: {}", path.string(), std::strerror(errno));
  out << "id,source,source_path,patient,label,split,view,sha256,age,age_group\n";
  for (const auto& r : rows) {
    out << r.id << ',' << source_name(r.source) << ',' << csv_field(r.source_path) << ',' << csv_field(r.patient) << ','
        << names.at(r.label) << ',' << split_name(r.split) << ',' << csv_field(r.view) << ',' << r.sha256 << ','
        << (r.age ? fmt::format("{}", *r.age) : "") << ',' << age_group_name(r.age_group) << '\n';
  }
  out.close();
  CXR_CHECK(out.good(), "manifest: error writing {}", path.string());
}

std::vector<ManifestRow> read_manifest(const std::filesystem::path& path, int num_classes) {
  return parse_manifest(read_csv(path), path.string(), num_classes);
}

std::vector<ManifestRow> parse_manifest(const CsvTable& t, const std::string& name, int num_classes) {
  CXR_CHECK(t.issues.empty(), "manifest: {} line {}: {}", name, t.issues.empty() ? 0 : t.issues[0].line,
            t.issues.empty() ? "" : t.issues[0].message);
  int col[8];
  for (int i = 0; i < 8; ++i) {
    col[i] = t.column(kColumns[i]);
    CXR_CHECK(col[i] >= 0, "manifest: {} has no '{}' column", name, kColumns[i]);
  }
  // Absent from manifests written before ages were recorded: then unknown.
  const int c_age = t.column("age"), c_age_group = t.column("age_group");
  std::vector<ManifestRow> rows;
  rows.reserve(t.rows.size());
  for (const auto& row : t.rows) {
    const auto& f = row.fields;
    auto bad = [&](std::string_view what) {
      return Error(fmt::format("manifest: {} line {}: bad {}", name, row.line, what));
    };
    ManifestRow r;
    const auto& id = f[col[0]];
    if (std::from_chars(id.data(), id.data() + id.size(), r.id).ptr != id.data() + id.size() ||
        r.id != static_cast<std::int64_t>(rows.size()))
      throw bad("id (ids run 0, 1, 2, ... in file order)");
    const auto source = source_from_name(f[col[1]]);
    if (!source) throw bad(fmt::format("source '{}'", f[col[1]]));
    r.source = *source;
    const auto label = target_index(f[col[4]], num_classes);
    if (!label) throw bad(fmt::format("label '{}' for the {}-class scheme", f[col[4]], num_classes));
    r.label = *label;
    const auto split = split_from_name(f[col[5]]);
    if (!split) throw bad("split");
    r.split = *split;
    r.source_path = f[col[2]];
    r.patient = f[col[3]];
    r.view = f[col[6]];
    r.sha256 = f[col[7]];
    if (c_age >= 0 && !f[c_age].empty()) {
      r.age = parse_age_years(f[c_age]);
      if (!r.age) throw bad(fmt::format("age '{}' (years in [0, 150], or empty)", f[c_age]));
    }
    if (c_age_group >= 0) {
      const auto group = age_group_from_name(f[c_age_group]);
      if (!group) throw bad(fmt::format("age_group '{}' (unknown, child or adult)", f[c_age_group]));
      if (r.age && *group != age_group_of(r.age))
        throw bad(fmt::format("age_group '{}' for age {}", f[c_age_group], f[c_age]));
      r.age_group = *group;
    } else {
      r.age_group = age_group_of(r.age);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace cxr::data
