// Scanning the Kermany et al. (2018) pediatric chest X-ray tree:
//   root/{train,test,val}/{NORMAL,PNEUMONIA}/<file>
// (Mendeley rscbjbr9sj v2 has no val/; the Kaggle copy moved 16 train images there.)
//
// Labels and patients come from the file names:
//   NORMAL/IM-0115-0001.jpeg, NORMAL/NORMAL2-IM-0246-0001-0002.jpeg
//       -> normal, patient "IM-0115" / "NORMAL2-IM-0246"
//   PNEUMONIA/person12_bacteria_46.jpeg, PNEUMONIA/person1_virus_6.jpeg
//       -> bacterial / viral, patient "bacteria-person12" / "virus-person1"
// The person numbers are counted separately for bacteria and virus (808 numbers
// occur with both subtypes in train, and no person/subtype pair spans the official
// splits), so the subtype is part of the patient key. A name that fits neither
// pattern, or contradicts its folder, is skipped and reported. The images are
// anterior-posterior (Kermany et al. 2018), so the view is AP. The set is pediatric
// (children aged 1 to 5) but gives no age per image: age unknown, age group child.
#pragma once

#include "data/records.h"

#include <filesystem>
#include <optional>
#include <string_view>

namespace cxr::data {

struct KermanyName {
  std::string patient;  // without the "kermany:" prefix
  bool pneumonia = false;
  bool viral = false;  // pneumonia subtype
};

// Parses a file name (no folder); nothing when it fits neither pattern.
std::optional<KermanyName> parse_kermany_name(std::string_view file_name);

// Throws cxr::Error when root has none of train/, test/, val/.
SourceScan scan_kermany(const std::filesystem::path& root, int num_classes);

}  // namespace cxr::data
