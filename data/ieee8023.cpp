#include "data/ieee8023.h"

#include "base/check.h"
#include "engine/data/csv.h"
#include "engine/data/text.h"

#include <map>

namespace cxr::data {

namespace {

using Kind = FindingRule::Kind;
constexpr FindingRule dx(Diagnosis d) {
  return {Kind::diagnosis, d};
}
constexpr FindingRule kUnlabelled{Kind::unlabelled, Diagnosis::covid};
constexpr FindingRule kNoClass{Kind::no_class, Diagnosis::covid};

struct Entry {
  std::string_view finding;
  FindingRule rule;
};

// Every finding value metadata.csv has used, flat (up to mid 2020) and
// hierarchical (later). docs/data.md has the same table with the reasons.
constexpr Entry kFindings[] = {
    {"COVID-19", dx(Diagnosis::covid)},
    {"COVID-19, ARDS", dx(Diagnosis::covid)},
    {"Pneumonia/Viral/COVID-19", dx(Diagnosis::covid)},
    {"No Finding", dx(Diagnosis::normal)},
    // Bacterial pneumonia.
    {"Bacterial", dx(Diagnosis::bacterial)},
    {"Streptococcus", dx(Diagnosis::bacterial)},
    {"Klebsiella", dx(Diagnosis::bacterial)},
    {"Legionella", dx(Diagnosis::bacterial)},
    {"Mycoplasma", dx(Diagnosis::bacterial)},
    {"Mycoplasma Bacterial Pneumonia", dx(Diagnosis::bacterial)},
    {"E.Coli", dx(Diagnosis::bacterial)},
    {"Chlamydophila", dx(Diagnosis::bacterial)},
    {"Staphylococcus", dx(Diagnosis::bacterial)},
    {"MRSA", dx(Diagnosis::bacterial)},
    {"Nocardia", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Streptococcus", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Klebsiella", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Legionella", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Mycoplasma", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/E.Coli", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Chlamydophila", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Nocardia", dx(Diagnosis::bacterial)},
    {"Pneumonia/Bacterial/Staphylococcus/MRSA", dx(Diagnosis::bacterial)},
    // Viral pneumonia other than COVID-19 (SARS and MERS are other coronaviruses).
    {"SARS", dx(Diagnosis::viral)},
    {"MERS-CoV", dx(Diagnosis::viral)},
    {"MERS", dx(Diagnosis::viral)},
    {"Influenza", dx(Diagnosis::viral)},
    {"H1N1", dx(Diagnosis::viral)},
    {"Varicella", dx(Diagnosis::viral)},
    {"Herpes", dx(Diagnosis::viral)},
    {"Pneumonia/Viral/SARS", dx(Diagnosis::viral)},
    {"Pneumonia/Viral/MERS-CoV", dx(Diagnosis::viral)},
    {"Pneumonia/Viral/Influenza", dx(Diagnosis::viral)},
    {"Pneumonia/Viral/Influenza/H1N1", dx(Diagnosis::viral)},
    {"Pneumonia/Viral/Varicella", dx(Diagnosis::viral)},
    {"Pneumonia/Viral/Herpes", dx(Diagnosis::viral)},
    // Fungal pneumonia.
    {"Pneumocystis", dx(Diagnosis::fungal)},
    {"Aspergillosis", dx(Diagnosis::fungal)},
    {"Pneumonia/Fungal/Pneumocystis", dx(Diagnosis::fungal)},
    {"Pneumonia/Fungal/Aspergillosis", dx(Diagnosis::fungal)},
    // Pneumonia without an organism (aspiration pneumonia is usually polymicrobial).
    {"Pneumonia", dx(Diagnosis::pneumonia_unspecified)},
    {"Aspiration", dx(Diagnosis::pneumonia_unspecified)},
    {"Pneumonia/Aspiration", dx(Diagnosis::pneumonia_unspecified)},
    // Known, but none of our classes.
    {"Lipoid", kNoClass},  // exogenous lipoid pneumonia: chemical, not infectious
    {"Pneumonia/Lipoid", kNoClass},
    {"ARDS", kNoClass},          // a syndrome with many causes, not a pneumonia type
    {"Tuberculosis", kNoClass},  // mycobacterial disease with its own radiographic pattern
    // Not assigned upstream yet.
    {"todo", kUnlabelled},
    {"Unknown", kUnlabelled},
    {"", kUnlabelled},
};

constexpr std::string_view kFrontalViews[] = {"PA", "AP", "AP Supine", "AP semi erect", "AP erect"};

}  // namespace

std::optional<FindingRule> finding_rule(std::string_view finding) {
  const std::string_view key = trim(finding);
  for (const auto& e : kFindings)
    if (iequals(e.finding, key)) return e.rule;
  return std::nullopt;
}

std::optional<std::string_view> frontal_view(std::string_view view) {
  for (auto v : kFrontalViews)
    if (iequals(trim(view), v)) return v;
  return std::nullopt;
}

SourceScan select_ieee8023(const std::filesystem::path& root, int num_classes) {
  const CsvTable table = read_csv(root / "metadata.csv");
  auto need = [&](std::string_view name) {
    const int c = table.column(name);
    CXR_CHECK(c >= 0, "ieee8023: {} has no '{}' column", (root / "metadata.csv").string(), name);
    return c;
  };
  const int c_patient = need("patientid"), c_finding = need("finding"), c_view = need("view"),
            c_modality = need("modality"), c_filename = need("filename");
  const int c_folder = table.column("folder");  // absent in the earliest versions: images/
  const int c_age = table.column("age");        // likewise; then every age is unknown

  SourceScan scan;
  for (const auto& issue : table.issues)
    scan.skipped.push_back(
        {Source::ieee8023, fmt::format("metadata.csv line {}", issue.line), "malformed_csv_row", issue.message});

  struct Taken {
    std::size_t candidate;  // index into scan.candidates
    std::int64_t line;
  };
  std::map<std::string, Taken> taken;  // source path -> first row that selected it
  std::vector<bool> conflicting;       // per candidate: another row gives the file another class

  for (const auto& row : table.rows) {
    const auto& f = row.fields;
    const std::string folder = c_folder >= 0 && !trim(f[c_folder]).empty() ? std::string(trim(f[c_folder])) : "images";
    const std::string filename(trim(f[c_filename]));
    const std::string item = fmt::format("metadata.csv line {} ({})", row.line, filename);
    auto exclude = [&](std::string reason, std::string detail) {
      scan.excluded.push_back({Source::ieee8023, item, std::move(reason), std::move(detail)});
    };
    auto skip = [&](std::string reason, std::string detail) {
      scan.skipped.push_back({Source::ieee8023, item, std::move(reason), std::move(detail)});
    };

    if (!iequals(trim(f[c_modality]), "X-ray")) {
      exclude("not_xray", fmt::format("modality '{}'", f[c_modality]));
      continue;
    }
    const auto view = frontal_view(f[c_view]);
    if (!view) {
      const auto v = trim(f[c_view]);
      if (v.empty() || v == "?") {
        exclude("view_not_recorded", "the view column is empty or '?'");
      } else {
        exclude("not_frontal", fmt::format("view '{}'", v));
      }
      continue;
    }
    const auto rule = finding_rule(f[c_finding]);
    if (!rule) {
      skip("unknown_finding", fmt::format("finding '{}' is not in the finding table", f[c_finding]));
      continue;
    }
    if (rule->kind == Kind::unlabelled) {
      exclude("unlabelled_finding", fmt::format("finding '{}'", f[c_finding]));
      continue;
    }
    const auto label = rule->kind == Kind::diagnosis ? target_of(rule->diagnosis, num_classes) : std::nullopt;
    if (!label) {
      exclude("finding_without_class",
              fmt::format("finding '{}' has no class in the {}-class scheme", f[c_finding], num_classes));
      continue;
    }
    const std::string patient(trim(f[c_patient]));
    if (patient.empty()) {
      skip("missing_patient_id", "the patientid column is empty");
      continue;
    }
    if (!safe_file_name(filename) || !safe_file_name(folder)) {
      skip("invalid_file_name", fmt::format("'{}/{}' is not a plain file name", folder, filename));
      continue;
    }
    const std::string source_path = folder + "/" + filename;
    const std::string patient_key = "ieee8023:" + patient;
    if (auto it = taken.find(source_path); it != taken.end()) {
      const Candidate& first = scan.candidates[it->second.candidate];
      scan.same_patient.emplace_back(first.patient, patient_key);
      if (first.label != *label) conflicting[it->second.candidate] = true;
      skip("duplicate_metadata_row", fmt::format("same file as metadata.csv line {}{}", it->second.line,
                                                 first.label != *label ? ", with another class" : ""));
      continue;
    }
    const auto file = root / folder / filename;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      skip("missing_image", fmt::format("{} does not exist", file.string()));
      continue;
    }
    taken.emplace(source_path, Taken{scan.candidates.size(), row.line});
    conflicting.push_back(false);
    const auto age = c_age >= 0 ? parse_age_years(f[c_age]) : std::nullopt;
    scan.candidates.push_back(
        {Source::ieee8023, source_path, file, patient_key, *label, std::string(*view), {}, age, age_group_of(age)});
  }

  // A file that rows give different classes has no trustworthy label.
  std::vector<Candidate> kept;
  for (std::size_t i = 0; i < scan.candidates.size(); ++i) {
    if (conflicting[i]) {
      scan.skipped.push_back({Source::ieee8023, scan.candidates[i].source_path, "conflicting_labels",
                              "metadata.csv rows give this file different classes"});
    } else {
      kept.push_back(std::move(scan.candidates[i]));
    }
  }
  scan.candidates = std::move(kept);
  return scan;
}

}  // namespace cxr::data
