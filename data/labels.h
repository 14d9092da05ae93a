// Class schemes, their targets, and the diagnosis groups that the sources map into.
//
//   4 classes: covid, normal, bacterial, viral
//   3 classes: covid, normal, other_pneumonia
//
// A target is what an image is labelled with: one class, or a set of classes when
// the source cannot tell which one it is. The targets of a scheme are its classes
// (target c is class c) followed by its label sets:
//
//   4 classes: covid, normal, bacterial, viral, pneumonia (= {bacterial, viral})
//   3 classes: covid, normal, other_pneumonia (no sets)
//
// Manifest labels, Candidate::label and Dataset::label(i) are target indices; a
// network still predicts the classes, and a label set is right when the predicted
// class is in it (target_classes).
//
// A source never names a target directly: ieee8023 findings (data/ieee8023.h),
// Kermany file names (data/kermany.h) and NIH labels (data/nih.h) map to
// a Diagnosis, and one table here says which target, if any, each diagnosis has in
// each scheme.
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

// The class whose name is `name` in the scheme, or nothing (a label set is not a class).
std::optional<int> class_index(std::string_view name, int num_classes);

// Targets of a scheme, in label order: the classes first (target c is class c), then the
// label sets. 4 classes: covid, normal, bacterial, viral, pneumonia (= {bacterial, viral}:
// pneumonia whose organism is unknown). 3 classes: the three classes only.
const std::vector<std::string>& target_names(int num_classes);
int num_targets(int num_classes);

// Bit c set when class c is admissible for the target. Throws cxr::Error for a target
// outside the scheme.
std::uint32_t target_classes(int target, int num_classes);

// The target whose name is `name` in the scheme, or nothing.
std::optional<int> target_index(std::string_view name, int num_classes);

// The target of `d` in the scheme, or nothing when the scheme has none for it: fungal
// pneumonia in the 4-class scheme is neither bacterial nor viral, and guessing would
// mislabel it. Unspecified pneumonia is the label set `pneumonia` there.
std::optional<int> target_of(Diagnosis d, int num_classes);

}  // namespace cxr::data
