#include "engine/data/stats.h"

#include "engine/check.h"
#include "engine/data/labels.h"

#include <boost/json.hpp>

#include <fstream>
#include <set>
#include <tuple>

namespace cxr::data {

namespace json = boost::json;

namespace {

std::map<std::string, std::int64_t> by_reason(const std::vector<Skip>& list) {
  std::map<std::string, std::int64_t> out;
  for (const auto& s : list) ++out[s.reason];
  return out;
}

json::object counts_object(const std::map<std::string, std::int64_t>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

json::array skip_items(const std::vector<Skip>& list) {
  json::array a;
  for (const auto& s : list)
    a.push_back(json::object{{"source", source_name(s.source)}, {"item", s.item}, {"reason", s.reason},
                             {"detail", s.detail}});
  return a;
}

// boost::json writes one line; stats.json is also read by people.
void pretty(std::ostream& out, const json::value& v, int indent) {
  const std::string pad(indent + 2, ' '), end_pad(indent, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out << "{}";
      return;
    }
    out << "{\n";
    std::size_t i = 0;
    for (const auto& kv : o) {
      out << pad << json::serialize(json::string(kv.key())) << ": ";
      pretty(out, kv.value(), indent + 2);
      out << (++i < o.size() ? ",\n" : "\n");
    }
    out << end_pad << "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    const auto& a = v.get_array();
    out << "[\n";
    for (std::size_t i = 0; i < a.size(); ++i) {
      out << pad;
      pretty(out, a[i], indent + 2);
      out << (i + 1 < a.size() ? ",\n" : "\n");
    }
    out << end_pad << "]";
  } else {
    out << json::serialize(v);
  }
}

}  // namespace

std::map<std::string, std::int64_t> BuildStats::excluded_by_reason() const { return by_reason(excluded); }
std::map<std::string, std::int64_t> BuildStats::skipped_by_reason() const { return by_reason(skipped); }

std::int64_t BuildStats::duplicates_removed() const {
  std::int64_t n = 0;
  for (const auto& g : duplicates) n += static_cast<std::int64_t>(g.removed.size());
  return n;
}

void count_rows(BuildStats& stats, const std::vector<ManifestRow>& rows) {
  stats.images = static_cast<std::int64_t>(rows.size());
  stats.counts = {};
  stats.patients = {};
  stats.split_patients = {};
  stats.views = {};
  std::set<std::tuple<int, int, std::string>> class_patients;
  std::set<std::pair<int, std::string>> split_patients;
  for (const auto& r : rows) {
    const int s = static_cast<int>(r.split);
    ++stats.counts[s][r.label][static_cast<int>(r.source)];
    ++stats.views[static_cast<int>(r.source)][r.view];
    if (class_patients.emplace(s, r.label, r.patient).second) ++stats.patients[s][r.label];
    if (split_patients.emplace(s, r.patient).second) ++stats.split_patients[s];
  }
}

void write_stats_json(const std::filesystem::path& path, const BuildStats& st) {
  const auto& names = class_names(st.num_classes);
  json::object root;
  root["format"] = "cxr-dataset-stats";
  root["version"] = 1;

  json::array classes;
  for (const auto& n : names) classes.push_back(json::string(n));
  root["settings"] = json::object{
      {"size", st.size},
      {"classes", classes},
      {"fit", st.fit},
      {"split", json::object{{"train", st.fractions.train}, {"val", st.fractions.val}, {"test", st.fractions.test}}},
      {"seed", st.seed},
      {"kermany_official_test", st.keep_kermany_test ? "kept as the test split" : "pooled and re-split"},
      {"covid_dir", st.covid_dir},
      {"kermany_dir", st.kermany_dir},
  };
  root["images"] = st.images;

  json::object counts, patients;
  std::array<std::array<std::int64_t, 2>, 4> all{};
  for (Split s : kSplits) {
    json::object per_class, per_class_patients;
    std::int64_t split_total = 0;
    for (int c = 0; c < st.num_classes; ++c) {
      const auto ie = st.count(s, c, Source::ieee8023), ke = st.count(s, c, Source::kermany);
      per_class[names[c]] = json::object{{"ieee8023", ie}, {"kermany", ke}, {"total", ie + ke}};
      all[c][0] += ie, all[c][1] += ke;
      split_total += ie + ke;
      per_class_patients[names[c]] = st.patients[static_cast<int>(s)][c];
    }
    per_class["total"] = split_total;
    per_class_patients["total"] = st.split_patients[static_cast<int>(s)];
    counts[split_name(s)] = per_class;
    patients[split_name(s)] = per_class_patients;
  }
  json::object per_class_all;
  for (int c = 0; c < st.num_classes; ++c)
    per_class_all[names[c]] = json::object{{"ieee8023", all[c][0]}, {"kermany", all[c][1]}, {"total", all[c][0] + all[c][1]}};
  per_class_all["total"] = st.images;
  counts["all"] = per_class_all;
  root["counts"] = counts;
  root["patients"] = patients;
  root["views"] = json::object{{"ieee8023", counts_object(st.views[0])}, {"kermany", counts_object(st.views[1])}};
  root["pixel_mean"] = st.pixel_mean;
  root["pixel_std"] = st.pixel_std;

  json::array groups;
  for (const auto& g : st.duplicates) {
    json::array removed;
    for (const auto& r : g.removed) removed.push_back(json::string(r));
    groups.push_back(json::object{{"kept", g.kept}, {"removed", removed}, {"conflicting_labels", g.conflicting_labels}});
  }
  root["duplicates"] = json::object{{"removed", st.duplicates_removed()}, {"groups", groups}};
  root["excluded"] = json::object{{"counts", counts_object(st.excluded_by_reason())}, {"items", skip_items(st.excluded)}};
  root["skipped"] = json::object{{"counts", counts_object(st.skipped_by_reason())}, {"items", skip_items(st.skipped)}};

  std::ofstream out(path, std::ios::binary);
  CXR_CHECK(out.good(), "stats: cannot create {}", path.string());
  pretty(out, root, 0);
  out << "\n";
  out.close();
  CXR_CHECK(out.good(), "stats: error writing {}", path.string());
}

}  // namespace cxr::data
