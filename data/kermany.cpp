#include "data/kermany.h"

#include "base/check.h"
#include "data/labels.h"
#include "engine/data/text.h"

#include <algorithm>
#include <regex>

namespace cxr::data {

std::optional<KermanyName> parse_kermany_name(std::string_view file_name) {
  static const std::regex normal(R"(^((?:NORMAL2-)?IM-[0-9]+)-[0-9]+(?:-[0-9]+)?\.(?:jpe?g|png)$)", std::regex::icase);
  static const std::regex pneumonia(R"(^person([0-9]+)_(bacteria|virus)_[0-9]+(?:_[0-9]+)?\.(?:jpe?g|png)$)",
                                    std::regex::icase);
  const std::string name(file_name);
  std::smatch m;
  if (std::regex_match(name, m, normal)) return KermanyName{m[1].str(), false, false};
  if (std::regex_match(name, m, pneumonia)) {
    const std::string subtype = lower(m[2].str());
    return KermanyName{subtype + "-person" + m[1].str(), true, subtype == "virus"};
  }
  return std::nullopt;
}

SourceScan scan_kermany(const std::filesystem::path& root, int num_classes) {
  namespace fs = std::filesystem;
  struct Folder {
    std::string_view name;
    Split split;
  };
  constexpr Folder kFolders[] = {{"train", Split::train}, {"val", Split::val}, {"test", Split::test}};
  bool any = false;
  for (const auto& f : kFolders) any = any || fs::is_directory(root / f.name);
  CXR_CHECK(any, "kermany: {} has none of train/, val/, test/ (expected the chest_xray folder)", root.string());

  SourceScan scan;
  for (const auto& folder : kFolders) {
    for (std::string_view cls : {"NORMAL", "PNEUMONIA"}) {
      const fs::path dir = root / folder.name / cls;
      if (!fs::is_directory(dir)) continue;
      std::vector<std::string> names;
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
      std::sort(names.begin(), names.end());
      for (const auto& name : names) {
        const std::string source_path = fmt::format("{}/{}/{}", folder.name, cls, name);
        auto skip = [&](std::string reason, std::string detail) {
          scan.skipped.push_back({Source::kermany, source_path, std::move(reason), std::move(detail)});
        };
        const std::string ext = lower(fs::path(name).extension().string());
        if (ext != ".jpeg" && ext != ".jpg" && ext != ".png") {
          skip("not_an_image_file", "extension is not .jpeg, .jpg or .png");
          continue;
        }
        const auto parsed = parse_kermany_name(name);
        if (!parsed) {
          skip("unrecognised_file_name", "expected IM-*, NORMAL2-IM-* or personN_(bacteria|virus)_*");
          continue;
        }
        if (parsed->pneumonia != (cls == "PNEUMONIA")) {
          skip("name_contradicts_folder",
               fmt::format("a {} file name in {}/", parsed->pneumonia ? "pneumonia" : "normal", cls));
          continue;
        }
        const Diagnosis d = !parsed->pneumonia ? Diagnosis::normal
                            : parsed->viral    ? Diagnosis::viral
                                               : Diagnosis::bacterial;
        // Ages are not published per image, but the set is pediatric (Kermany et al.
        // 2018: children aged 1 to 5), so every image is a child's.
        scan.candidates.push_back({Source::kermany, source_path, dir / name, "kermany:" + parsed->patient,
                                   *target_of(d, num_classes), "AP", folder.split, std::nullopt, AgeGroup::child});
      }
    }
  }
  return scan;
}

}  // namespace cxr::data
