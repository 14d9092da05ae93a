#include "engine/data/labels.h"

#include "engine/check.h"

namespace cxr::data {

namespace {
void check_scheme(int num_classes) {
  CXR_CHECK(num_classes == 3 || num_classes == 4, "classes: expected 3 or 4, got {}", num_classes);
}
}  // namespace

std::string_view diagnosis_name(Diagnosis d) {
  switch (d) {
    case Diagnosis::covid: return "covid";
    case Diagnosis::normal: return "normal";
    case Diagnosis::bacterial: return "bacterial";
    case Diagnosis::viral: return "viral";
    case Diagnosis::fungal: return "fungal";
    case Diagnosis::pneumonia_unspecified: return "pneumonia_unspecified";
  }
  return "?";
}

const std::vector<std::string>& class_names(int num_classes) {
  check_scheme(num_classes);
  static const std::vector<std::string> four{"covid", "normal", "bacterial", "viral"};
  static const std::vector<std::string> three{"covid", "normal", "other_pneumonia"};
  return num_classes == 4 ? four : three;
}

std::optional<int> class_of(Diagnosis d, int num_classes) {
  check_scheme(num_classes);
  switch (d) {
    case Diagnosis::covid: return 0;
    case Diagnosis::normal: return 1;
    case Diagnosis::bacterial: return 2;
    case Diagnosis::viral: return num_classes == 4 ? 3 : 2;
    case Diagnosis::fungal:
    case Diagnosis::pneumonia_unspecified: return num_classes == 4 ? std::nullopt : std::optional<int>(2);
  }
  return std::nullopt;
}

std::optional<int> class_index(std::string_view name, int num_classes) {
  const auto& names = class_names(num_classes);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

}  // namespace cxr::data
