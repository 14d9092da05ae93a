#include "data/stats.h"

#include "base/check.h"
#include "data/labels.h"

#include <boost/json.hpp>

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
    a.push_back(
        json::object{{"source", source_name(s.source)}, {"item", s.item}, {"reason", s.reason}, {"detail", s.detail}});
  return a;
}

}  // namespace

std::int64_t BuildStats::count(Split s, int target) const {
  std::int64_t n = 0;
  for (Source src : kSources) n += count(s, target, src);
  return n;
}

std::int64_t BuildStats::source_images(Source src) const {
  std::int64_t n = 0;
  for (Split s : kSplits)
    for (int t = 0; t < kMaxTargets; ++t) n += count(s, t, src);
  return n;
}

std::map<std::string, std::int64_t> BuildStats::excluded_by_reason() const {
  return by_reason(excluded);
}
std::map<std::string, std::int64_t> BuildStats::skipped_by_reason() const {
  return by_reason(skipped);
}

std::int64_t BuildStats::duplicates_removed() const {
  std::int64_t n = 0;
  for (const auto& g : duplicates) n += static_cast<std::int64_t>(g.removed.size());
  return n;
}

void count_rows(BuildStats& stats, const std::vector<ManifestRow>& rows) {
  stats.images = static_cast<std::int64_t>(rows.size());
  stats.counts = {};
  stats.ages = {};
  stats.patients = {};
  stats.split_patients = {};
  stats.views = {};
  std::set<std::tuple<int, int, std::string>> target_patients;
  std::set<std::pair<int, std::string>> split_patients;
  for (const auto& r : rows) {
    const int s = static_cast<int>(r.split), src = static_cast<int>(r.source);
    ++stats.counts[s][r.label][src];
    ++stats.ages[s][src][static_cast<int>(r.age_group)];
    ++stats.views[src][r.view];
    if (target_patients.emplace(s, r.label, r.patient).second) ++stats.patients[s][r.label];
    if (split_patients.emplace(s, r.patient).second) ++stats.split_patients[s];
  }
}

namespace {

// {"ieee8023": n, "kermany": n, "nih": n, "total": n} for one split (or all) and target.
json::object per_source(const BuildStats& st, const std::vector<Split>& splits, int target) {
  json::object o;
  std::int64_t total = 0;
  for (Source src : kBuildSources) {
    std::int64_t n = 0;
    for (Split s : splits) n += st.count(s, target, src);
    o[source_name(src)] = n;
    total += n;
  }
  o["total"] = total;
  return o;
}

// {"<target>": per_source, ..., "total": n}
json::object per_target(const BuildStats& st, const std::vector<Split>& splits) {
  json::object o;
  std::int64_t total = 0;
  const auto& names = target_names(st.num_classes);
  for (int t = 0; t < num_targets(st.num_classes); ++t) {
    o[names[t]] = per_source(st, splits, t);
    for (Split s : splits) total += st.count(s, t);
  }
  o["total"] = total;
  return o;
}

// {"ieee8023": {"unknown": n, "child": n, "adult": n}, ...}
json::object age_groups(const BuildStats& st, const std::vector<Split>& splits) {
  json::object o;
  for (Source src : kBuildSources) {
    json::object groups;
    for (AgeGroup g : kAgeGroups) {
      std::int64_t n = 0;
      for (Split s : splits) n += st.count(s, src, g);
      groups[age_group_name(g)] = n;
    }
    o[source_name(src)] = groups;
  }
  return o;
}

// Per build source, all splits: images, per target and per age group.
json::object sources(const BuildStats& st) {
  const std::vector<Split> all(std::begin(kSplits), std::end(kSplits));
  const auto& names = target_names(st.num_classes);
  json::object o;
  const json::object ages = age_groups(st, all);
  for (Source src : kBuildSources) {
    json::object targets;
    for (int t = 0; t < num_targets(st.num_classes); ++t) {
      std::int64_t n = 0;
      for (Split s : kSplits) n += st.count(s, t, src);
      targets[names[t]] = n;
    }
    o[source_name(src)] = json::object{
        {"images", st.source_images(src)}, {"targets", targets}, {"age_groups", ages.at(source_name(src))}};
  }
  return o;
}

}  // namespace

json::object stats_to_json(const BuildStats& st) {
  json::object root;
  root["format"] = "cxr-dataset-stats";
  root["version"] = 1;

  json::array classes, targets;
  for (const auto& n : class_names(st.num_classes)) classes.push_back(json::string(n));
  for (const auto& n : target_names(st.num_classes)) targets.push_back(json::string(n));
  root["settings"] = json::object{
      {"size", st.size},
      {"classes", classes},
      {"targets", targets},
      {"fit", st.fit},
      {"split", json::object{{"train", st.fractions.train}, {"val", st.fractions.val}, {"test", st.fractions.test}}},
      {"seed", st.seed},
      {"kermany_official_test", st.keep_kermany_test ? "kept as the test split" : "pooled and re-split"},
      {"covid_dir", st.covid_dir},
      {"kermany_dir", st.kermany_dir},
      {"nih_dir", st.nih_dir},
  };
  root["images"] = st.images;

  // counts: split (and all) x target x source; age_groups: split (and all) x source x group.
  json::object counts, patients, ages;
  for (Split s : kSplits) {
    counts[split_name(s)] = per_target(st, {s});
    ages[split_name(s)] = age_groups(st, {s});
    json::object per_target_patients;
    const auto& names = target_names(st.num_classes);
    for (int t = 0; t < num_targets(st.num_classes); ++t)
      per_target_patients[names[t]] = st.patients[static_cast<int>(s)][t];
    per_target_patients["total"] = st.split_patients[static_cast<int>(s)];
    patients[split_name(s)] = per_target_patients;
  }
  const std::vector<Split> all(std::begin(kSplits), std::end(kSplits));
  counts["all"] = per_target(st, all);
  ages["all"] = age_groups(st, all);
  root["counts"] = counts;
  root["patients"] = patients;
  root["sources"] = sources(st);
  root["age_groups"] = ages;
  json::object views;
  for (Source src : kBuildSources) views[source_name(src)] = counts_object(st.views[static_cast<int>(src)]);
  root["views"] = views;
  root["pixel_mean"] = st.pixel_mean;
  root["pixel_std"] = st.pixel_std;

  json::array groups;
  for (const auto& g : st.duplicates) {
    json::array removed;
    for (const auto& r : g.removed) removed.push_back(json::string(r));
    groups.push_back(
        json::object{{"kept", g.kept}, {"removed", removed}, {"conflicting_labels", g.conflicting_labels}});
  }
  root["duplicates"] = json::object{{"removed", st.duplicates_removed()}, {"groups", groups}};
  root["excluded"] =
      json::object{{"counts", counts_object(st.excluded_by_reason())}, {"items", skip_items(st.excluded)}};
  root["skipped"] = json::object{{"counts", counts_object(st.skipped_by_reason())}, {"items", skip_items(st.skipped)}};
  return root;
}

}  // namespace cxr::data
