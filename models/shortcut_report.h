// The source shortcut, measured: how a model does on each source x age group.
//
// In the seed's data every COVID-19 image is an adult from ieee8023 and every normal
// one a child from Kermany, so a model can score well by telling adults from children,
// or one hospital's films from another's. Overall metrics hide that; this report
// breaks them down by where an image comes from and how old the patient is:
//
//   cells        one per (source, age group): images, accuracy, macro-F1 over the
//                classes present in the cell's truth, and per target how many were
//                called COVID-19
//   adults       non-COVID-19 adults called COVID-19, in all and per target
//   same source  ieee8023 adults, COVID-19 against the rest, ROC AUC of P(covid): the
//                one comparison in the project's data where the hospital cannot
//                tell the answer (both sides come from the same collection)
//   worst cell   the lowest macro-F1 over cells with at least `min_cell_images`
//                images: a selection criterion that punishes a model that is good on
//                average and wrong on one population
// Label sets are resolved as models/metrics.h says before anything is counted.
#pragma once

#include "data/records.h"

#include <boost/json/object.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cxr {

struct ImageOrigin {
  data::Source source = data::Source::ieee8023;
  data::AgeGroup age_group = data::AgeGroup::unknown;
  int target = 0;
};

struct TargetCalls {
  std::int64_t images = 0, called_covid = 0;
};

struct ShortcutCell {
  data::Source source = data::Source::ieee8023;
  data::AgeGroup age_group = data::AgeGroup::unknown;
  std::int64_t images = 0;
  double accuracy = 0, macro_f1 = 0;
  std::vector<TargetCalls> by_target;  // indexed by target
};

struct ShortcutReport {
  std::vector<std::string> target_names;
  std::vector<ShortcutCell> cells;            // sorted by source, then age group
  std::vector<TargetCalls> adults_by_target;  // every source
  TargetCalls adults_non_covid;
  std::int64_t same_source_covid = 0, same_source_other = 0;
  double same_source_auc = 0;      // NaN when either side is empty
  double worst_cell_macro_f1 = 0;  // NaN when no cell is large enough
  std::string worst_cell;          // "source/age_group"
  int min_cell_images = 0;
};

// probabilities: [n x classes] row-major, origins: n.
ShortcutReport shortcut_report(std::span<const double> probabilities, std::span<const ImageOrigin> origins,
                               int num_classes, int min_cell_images = 20);

std::string format_shortcut_report(const ShortcutReport& report);
boost::json::object shortcut_report_to_json(const ShortcutReport& report);

}  // namespace cxr
