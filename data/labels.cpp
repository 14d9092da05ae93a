#include "data/labels.h"

#include "base/check.h"

namespace cxr::data {

namespace {

void check_scheme(int num_classes) {
  CXR_CHECK(num_classes == 3 || num_classes == 4, "classes: expected 3 or 4, got {}", num_classes);
}

std::optional<int> index_of(const std::vector<std::string>& names, std::string_view name) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

constexpr int kPneumonia = 4;  // the 4-class label set {bacterial, viral}

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

std::optional<int> class_index(std::string_view name, int num_classes) {
  return index_of(class_names(num_classes), name);
}

const std::vector<std::string>& target_names(int num_classes) {
  check_scheme(num_classes);
  static const std::vector<std::string> four{"covid", "normal", "bacterial", "viral", "pneumonia"};
  return num_classes == 4 ? four : class_names(3);
}

int num_targets(int num_classes) {
  return static_cast<int>(target_names(num_classes).size());
}

std::uint32_t target_classes(int target, int num_classes) {
  const int n = num_targets(num_classes);
  CXR_CHECK(target >= 0 && target < n, "target {} is not one of the {} targets of the {}-class scheme", target, n,
            num_classes);
  if (num_classes == 4 && target == kPneumonia) return (1u << 2) | (1u << 3);
  return 1u << target;
}

std::optional<int> target_index(std::string_view name, int num_classes) {
  return index_of(target_names(num_classes), name);
}

std::optional<int> target_of(Diagnosis d, int num_classes) {
  check_scheme(num_classes);
  const bool four = num_classes == 4;
  switch (d) {
    case Diagnosis::covid: return 0;
    case Diagnosis::normal: return 1;
    case Diagnosis::bacterial: return 2;
    case Diagnosis::viral: return four ? 3 : 2;
    case Diagnosis::fungal: return four ? std::nullopt : std::optional<int>(2);
    case Diagnosis::pneumonia_unspecified: return four ? kPneumonia : 2;
  }
  return std::nullopt;
}

}  // namespace cxr::data
