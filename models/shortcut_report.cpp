#include "models/shortcut_report.h"

#include "base/check.h"
#include "data/labels.h"
#include "models/metrics.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <utility>

namespace cxr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string cell_name(data::Source s, data::AgeGroup a) {
  return fmt::format("{}/{}", data::source_name(s), data::age_group_name(a));
}

// Macro-F1 over the classes that occur in `labels` (a cell of NIH adults has no
// COVID-19 images: a class that is absent and never predicted says nothing, and one
// that is absent but predicted already costs the true class its recall).
double present_class_macro_f1(const std::vector<int>& labels, const std::vector<int>& predicted, int num_classes) {
  const ClassificationReport r =
      report_from_confusion(confusion_matrix(labels, predicted, num_classes), data::class_names(num_classes));
  double sum = 0;
  int present = 0;
  for (const auto& c : r.classes)
    if (c.support > 0) sum += c.f1, ++present;
  return present > 0 ? sum / present : kNaN;
}

std::string percent(const TargetCalls& t) {
  return t.images > 0 ? fmt::format("{}/{} ({:.0f}%)", t.called_covid, t.images, 100.0 * t.called_covid / t.images)
                      : std::string("-");
}

boost::json::object calls_json(const TargetCalls& t) {
  return {{"images", t.images},
          {"called_covid", t.called_covid},
          {"share", t.images > 0 ? boost::json::value(static_cast<double>(t.called_covid) / t.images) : nullptr}};
}

}  // namespace

ShortcutReport shortcut_report(std::span<const double> probabilities, std::span<const ImageOrigin> origins,
                               int num_classes, int min_cell_images) {
  const std::size_t k = static_cast<std::size_t>(num_classes);
  CXR_CHECK(probabilities.size() == origins.size() * k, "shortcut_report: {} probabilities for {} images",
            probabilities.size(), origins.size());
  const int covid = *data::class_index("covid", num_classes);
  std::vector<int> targets;
  for (const auto& o : origins) targets.push_back(o.target);
  const std::vector<int> labels = resolve_targets(probabilities, targets, num_classes);
  const std::vector<int> predicted = predictions_from(probabilities, num_classes);

  ShortcutReport r;
  r.target_names = data::target_names(num_classes);
  r.min_cell_images = min_cell_images;
  const std::size_t targets_count = r.target_names.size();
  r.adults_by_target.assign(targets_count, {});
  std::map<std::pair<data::Source, data::AgeGroup>, std::vector<std::size_t>> members;
  std::vector<double> covid_scores;
  std::vector<bool> is_covid;
  for (std::size_t i = 0; i < origins.size(); ++i) {
    const ImageOrigin& o = origins[i];
    members[{o.source, o.age_group}].push_back(i);
    const bool called = predicted[i] == covid;
    if (o.age_group != data::AgeGroup::adult) continue;
    auto& t = r.adults_by_target[o.target];
    ++t.images, t.called_covid += called;
    if (o.target != covid) ++r.adults_non_covid.images, r.adults_non_covid.called_covid += called;
    if (o.source == data::Source::ieee8023) {
      covid_scores.push_back(probabilities[i * k + covid]);
      is_covid.push_back(o.target == covid);
      (o.target == covid ? r.same_source_covid : r.same_source_other) += 1;
    }
  }
  r.same_source_auc = roc_auc(covid_scores, is_covid);

  r.worst_cell_macro_f1 = kNaN;
  for (const auto& [key, list] : members) {
    ShortcutCell cell;
    cell.source = key.first;
    cell.age_group = key.second;
    cell.images = static_cast<std::int64_t>(list.size());
    cell.by_target.assign(targets_count, {});
    std::vector<int> cell_labels, cell_predicted;
    std::int64_t correct = 0;
    for (auto i : list) {
      cell_labels.push_back(labels[i]);
      cell_predicted.push_back(predicted[i]);
      correct += labels[i] == predicted[i];
      auto& t = cell.by_target[origins[i].target];
      ++t.images, t.called_covid += predicted[i] == covid;
    }
    cell.accuracy = static_cast<double>(correct) / static_cast<double>(list.size());
    cell.macro_f1 = present_class_macro_f1(cell_labels, cell_predicted, num_classes);
    if (cell.images >= min_cell_images && !(cell.macro_f1 >= r.worst_cell_macro_f1)) {
      r.worst_cell_macro_f1 = cell.macro_f1;
      r.worst_cell = cell_name(cell.source, cell.age_group);
    }
    r.cells.push_back(std::move(cell));
  }
  return r;
}

std::string format_shortcut_report(const ShortcutReport& r) {
  std::string out = "By source and age group (called COVID-19 per true target):\n";
  out += fmt::format("  {:<18}{:>7}{:>10}{:>10}", "source/age", "images", "accuracy", "macro-F1");
  for (const auto& name : r.target_names) out += fmt::format("  {:>16}", name);
  out += "\n";
  for (const auto& c : r.cells) {
    out += fmt::format("  {:<18}{:>7}{:>10.3f}{:>10}", cell_name(c.source, c.age_group), c.images, c.accuracy,
                       std::isnan(c.macro_f1) ? std::string("n/a") : fmt::format("{:.3f}", c.macro_f1));
    for (const auto& t : c.by_target) out += fmt::format("  {:>16}", percent(t));
    out += "\n";
  }
  out += fmt::format("Non-COVID-19 adults called COVID-19: {}\n", percent(r.adults_non_covid));
  for (std::size_t t = 0; t < r.target_names.size(); ++t)
    if (r.target_names[t] != "covid" && r.adults_by_target[t].images > 0)
      out += fmt::format("  {} adults called COVID-19: {}\n", r.target_names[t], percent(r.adults_by_target[t]));
  out += fmt::format("Same source (ieee8023 adults, {} COVID-19 vs {} other): AUC of P(covid) {}\n",
                     r.same_source_covid, r.same_source_other,
                     std::isnan(r.same_source_auc) ? std::string("n/a") : fmt::format("{:.3f}", r.same_source_auc));
  out += fmt::format("Worst cell with >= {} images: {}\n", r.min_cell_images,
                     std::isnan(r.worst_cell_macro_f1)
                         ? std::string("none")
                         : fmt::format("{} macro-F1 {:.3f}", r.worst_cell, r.worst_cell_macro_f1));
  return out;
}

boost::json::object shortcut_report_to_json(const ShortcutReport& r) {
  namespace json = boost::json;
  auto number = [](double x) {
    return std::isnan(x) ? json::value(nullptr) : json::value(x);
  };
  json::array cells;
  for (const auto& c : r.cells) {
    json::object calls;
    for (std::size_t t = 0; t < c.by_target.size(); ++t)
      if (c.by_target[t].images > 0) calls[r.target_names[t]] = calls_json(c.by_target[t]);
    cells.push_back(json::object{{"source", data::source_name(c.source)},
                                 {"age_group", data::age_group_name(c.age_group)},
                                 {"images", c.images},
                                 {"accuracy", c.accuracy},
                                 {"macro_f1", number(c.macro_f1)},
                                 {"called_covid_by_target", std::move(calls)}});
  }
  json::object adults;
  for (std::size_t t = 0; t < r.target_names.size(); ++t)
    if (r.adults_by_target[t].images > 0) adults[r.target_names[t]] = calls_json(r.adults_by_target[t]);
  return {{"cells", std::move(cells)},
          {"adults_called_covid_by_target", std::move(adults)},
          {"non_covid_adults_called_covid", calls_json(r.adults_non_covid)},
          {"same_source", json::object{{"source", "ieee8023"},
                                       {"age_group", "adult"},
                                       {"covid_images", r.same_source_covid},
                                       {"other_images", r.same_source_other},
                                       {"auc_p_covid", number(r.same_source_auc)}}},
          {"worst_cell", json::object{{"cell", r.worst_cell},
                                      {"macro_f1", number(r.worst_cell_macro_f1)},
                                      {"min_images", r.min_cell_images}}}};
}

}  // namespace cxr
