// `cxr data build`: the public chest X-ray datasets (ieee8023, Kermany, the NIH
// ChestX-ray14 share) -> one patient-level split dataset directory
// (data/build.h), with a summary of what went in and what was left out.
#include "app/commands.h"
#include "app/progress.h"
#include "data/build.h"
#include "data/labels.h"

#include <fmt/format.h>

#include <array>
#include <map>
#include <memory>
#include <string>

namespace cxr::cli {

namespace {

std::string reasons(const std::map<std::string, std::int64_t>& counts) {
  std::string out;
  for (const auto& [reason, n] : counts) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", reason, n);
  return out.empty() ? "none" : out;
}

// One line of the summary table: train, val, test and all.
void print_counts(std::string_view name, const std::array<std::int64_t, 3>& n) {
  fmt::print("  {:<24}{:>8}{:>8}{:>8}{:>8}\n", name, n[0], n[1], n[2], n[0] + n[1] + n[2]);
}

void print_summary(const data::BuildStats& st, const std::string& out_dir) {
  using data::Split;
  const auto& names = data::target_names(st.num_classes);
  const int targets = data::num_targets(st.num_classes);
  fmt::print("wrote {}: {} images of {}x{} ({}), {} classes\n", out_dir, st.images, st.size, st.size, st.fit,
             st.num_classes);
  fmt::print("  {:<24}{:>8}{:>8}{:>8}{:>8}\n", "images", "train", "val", "test", "all");
  for (int t = 0; t < targets; ++t)
    print_counts(names[t], {st.count(Split::train, t), st.count(Split::val, t), st.count(Split::test, t)});
  fmt::print("  {:<24}{:>8}{:>8}{:>8}\n", "patients", st.split_patients[0], st.split_patients[1], st.split_patients[2]);
  fmt::print("  by source and label:\n");
  for (data::Source src : data::kBuildSources)
    for (int t = 0; t < targets; ++t) {
      const std::array<std::int64_t, 3> n{st.count(Split::train, t, src), st.count(Split::val, t, src),
                                          st.count(Split::test, t, src)};
      if (n[0] + n[1] + n[2] > 0) print_counts(fmt::format("{} {}", data::source_name(src), names[t]), n);
    }
  fmt::print("  by source and age group (child: under 18):\n");
  for (data::Source src : data::kBuildSources)
    for (data::AgeGroup g : data::kAgeGroups) {
      const std::array<std::int64_t, 3> n{st.count(Split::train, src, g), st.count(Split::val, src, g),
                                          st.count(Split::test, src, g)};
      if (n[0] + n[1] + n[2] > 0)
        print_counts(fmt::format("{} {}", data::source_name(src), data::age_group_name(g)), n);
    }
  fmt::print("  train pixels: mean {:.4f}, std {:.4f}\n", st.pixel_mean, st.pixel_std);
  fmt::print("  excluded by selection: {} ({})\n", st.excluded.size(), reasons(st.excluded_by_reason()));
  fmt::print("  skipped (bad input):   {} ({})\n", st.skipped.size(), reasons(st.skipped_by_reason()));
  fmt::print("  exact duplicates removed: {}; details in stats.json\n", st.duplicates_removed());
  // Every class should be in every split, and so should a label set or a source's
  // label wherever it has images at all.
  auto missing = [&](Split s, auto count) {
    return st.fractions.of(s) > 0 && count(s) == 0;
  };
  for (int t = 0; t < targets; ++t) {
    auto count = [&](Split s) {
      return st.count(s, t);
    };
    const bool present = t < st.num_classes || count(Split::train) + count(Split::val) + count(Split::test) > 0;
    for (Split s : data::kSplits)
      if (present && missing(s, count))
        fmt::print("warning: no {} images in the {} split\n", names[t], data::split_name(s));
  }
  for (data::Source src : data::kBuildSources)
    for (int t = 0; t < targets; ++t) {
      auto count = [&](Split s) {
        return st.count(s, t, src);
      };
      const bool present = count(Split::train) + count(Split::val) + count(Split::test) > 0;
      for (Split s : data::kSplits)
        if (present && missing(s, count))
          fmt::print("warning: no {} {} images in the {} split\n", data::source_name(src), names[t],
                     data::split_name(s));
    }
}

void add_build_command(CLI::App& data_cmd) {
  auto opt = std::make_shared<data::BuildOptions>();
  auto split = std::make_shared<std::string>("70:15:15");
  auto fit = std::make_shared<std::string>("pad");
  CLI::App* cmd = data_cmd.add_subcommand(
      "build",
      "Build a patient-level split dataset (cache.bin, manifest.csv, stats.json) from ieee8023, Kermany and NIH");
  cmd->add_option("--covid", opt->covid_dir, "ieee8023 covid-chestxray-dataset folder (metadata.csv, images/)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--kermany", opt->kermany_dir, "Kermany chest_xray folder ({train,test,val}/{NORMAL,PNEUMONIA})")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--nih", opt->nih_dir, "NIH ChestX-ray14 share folder (metadata.csv, images/)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", opt->out_dir, "output directory (must not exist unless --overwrite)")->required();
  cmd->add_option("--size", opt->size, "image side in pixels")->check(CLI::Range(8, 4096))->capture_default_str();
  cmd->add_option("--classes", opt->num_classes,
                  "4: covid/normal/bacterial/viral (+ the label set pneumonia); 3: covid/normal/other_pneumonia")
      ->check(CLI::IsMember({3, 4}))
      ->capture_default_str();
  cmd->add_option("--split", *split, "train:val:test shares, by images, split by patient")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "split seed")->capture_default_str();
  cmd->add_option("--fit", *fit, "pad (letterbox, keeps the whole chest) or crop (centre square)")
      ->check(CLI::IsMember({"pad", "crop"}))
      ->capture_default_str();
  cmd->add_flag("--keep-kermany-test", opt->keep_kermany_test,
                "keep Kermany's official test images in the test split (default: pool and re-split)");
  cmd->add_flag("--overwrite", opt->overwrite, "replace an existing output directory");
  cmd->add_option("--max-side", opt->limits.max_side, "refuse images with a longer side (decompression bombs)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "decoding threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([opt, split, fit] {
    opt->fractions = data::parse_split(*split);
    opt->fit = *data::parse_fit(*fit);
    Progress progress;
    const auto stats = data::build_dataset(*opt, [&](std::string_view stage, std::int64_t done, std::int64_t total) {
      progress.update(stage, done, total);
    });
    print_summary(stats, opt->out_dir.string());
  });
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("data", "Prepare datasets");
  cmd->require_subcommand(1);
  add_build_command(*cmd);
}

}  // namespace cxr::cli
