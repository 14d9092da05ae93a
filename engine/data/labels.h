// Class schemes, and the diagnosis groups that both sources map into.
//
//   4 classes: covid, normal, bacterial, viral
//   3 classes: covid, normal, other_pneumonia
//
// A source never names a class directly: ieee8023 findings (engine/data/ieee8023.h)
// and Kermany file names (engine/data/kermany.h) map to a Diagnosis, and one table
// here says which class, if any, each diagnosis has in each scheme.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::data {

enum class Diagnosis : std::uint8_t {
  covid,                  // COVID-19 (SARS-CoV-2)
  normal,                 // no finding
  bacterial,              // bacterial pneumonia
  viral,                  // viral pneumonia other than COVID-19
  fungal,                 // fungal pneumonia (Pneumocystis, Aspergillus)
  pneumonia_unspecified,  // pneumonia with no organism or type given (incl. aspiration)
};

std::string_view diagnosis_name(Diagnosis d);

// Class names of a scheme, in label order. `num_classes` must be 3 or 4.
const std::vector<std::string>& class_names(int num_classes);

// The label of `d` in the scheme, or nothing when the scheme has no class for it
// (fungal and unspecified pneumonia in the 4-class scheme: they are neither
// bacterial nor viral, and guessing would mislabel them).
std::optional<int> class_of(Diagnosis d, int num_classes);

// The label whose name is `name` in the scheme, or nothing.
std::optional<int> class_index(std::string_view name, int num_classes);

}  // namespace cxr::data
