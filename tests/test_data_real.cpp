// Integration test on the real data in ../shared/data (CXR_SHARED_DATA): the
// dataset build of all three sources at 64 px must reproduce the counts of
// shared/data/README.md and shared/data/nih-chestxray14/README.md, keep every patient
// in one split, and put every target, and the NIH normals and pneumonias, in every
// split. Skipped when the folders are absent.
#include "data/build.h"
#include "data/dataset.h"
#include "data/kermany.h"
#include "data_fixtures.h"
#include "engine/data/csv.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdlib>
#include <map>

using namespace cxr::data;
namespace fs = std::filesystem;

namespace {

// CXR_SHARED_DATA, else ../shared/data beside the repository (this file is
// <repo>/tests/test_data_real.cpp).
fs::path shared_data() {
  if (const char* env = std::getenv("CXR_SHARED_DATA"); env && *env) return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "shared" / "data";
}

#define REQUIRE_SHARED_DATA()                                                                                          \
  const fs::path root = shared_data();                                                                                 \
  if (root.empty() || !fs::is_directory(root / "covid-chestxray-dataset") || !fs::is_directory(root / "chest_xray") || \
      !fs::is_directory(root / "nih-chestxray14"))                                                                     \
  GTEST_SKIP() << "real data not found (CXR_SHARED_DATA=" << root.string()                                             \
               << "); this test needs covid-chestxray-dataset/, chest_xray/ and nih-chestxray14/ there"

}  // namespace

TEST(DataReal, MetadataCsvParsesCleanly) {
  REQUIRE_SHARED_DATA();
  const auto t = read_csv(root / "covid-chestxray-dataset/metadata.csv");
  EXPECT_EQ(t.header.size(), 29u);  // 28 named columns and the empty one after the trailing comma
  EXPECT_EQ(t.rows.size(), 751u);   // README: 751 rows
  EXPECT_TRUE(t.issues.empty()) << t.issues.front().line << ": " << t.issues.front().message;
}

TEST(DataReal, BuildMatchesTheDataReadme) {
  REQUIRE_SHARED_DATA();
  cxr::test::TempDir tmp;
  BuildOptions opt;
  opt.covid_dir = root / "covid-chestxray-dataset";
  opt.kermany_dir = root / "chest_xray";
  opt.nih_dir = root / "nih-chestxray14";
  opt.out_dir = tmp / "dataset";
  opt.size = 64;
  const auto st = build_dataset(opt);

  // Removed exact duplicates, by source and class, to relate our counts to the README's.
  std::map<std::pair<Source, int>, int> removed;
  for (const auto& s : st.skipped) {
    if (s.reason != "duplicate_image") continue;
    if (s.source == Source::kermany) {
      const auto name = parse_kermany_name(fs::path(s.item).filename().string());
      ASSERT_TRUE(name);
      ++removed[{s.source, !name->pneumonia ? 1 : name->viral ? 3 : 2}];
    } else {
      ++removed[{s.source, -1}];
    }
  }
  auto dup = [&](Source src, int label) {
    return removed[{src, label}];
  };
  auto total = [&](int target, Source src) {
    std::int64_t n = 0;
    for (Split s : kSplits) n += st.count(s, target, src);
    return n;
  };
  auto age_total = [&](Source src, AgeGroup g) {
    std::int64_t n = 0;
    for (Split s : kSplits) n += st.count(s, src, g);
    return n;
  };
  // README, Kermany: 1583 normal, 2780 bacteria, 1493 virus; all decode; all children.
  EXPECT_EQ(total(1, Source::kermany) + dup(Source::kermany, 1), 1583);
  EXPECT_EQ(total(2, Source::kermany) + dup(Source::kermany, 2), 2780);
  EXPECT_EQ(total(3, Source::kermany) + dup(Source::kermany, 3), 1493);
  EXPECT_EQ(total(0, Source::kermany), 0);
  EXPECT_EQ(total(4, Source::kermany), 0);
  EXPECT_EQ(age_total(Source::kermany, AgeGroup::child), st.source_images(Source::kermany));
  // README, ieee8023 X-ray frontal with the image present: COVID-19 415 and
  // "COVID-19, ARDS" 12; No Finding 19. Bacterial (Streptococcus 11 present of 13,
  // Klebsiella 7, E.Coli 4, Legionella 3 files in 4 rows, Mycoplasma 4, Bacterial 2)
  // 31; viral (SARS 16, Varicella 4, Influenza 1) 21; the label set pneumonia: 13
  // `Pneumonia` rows naming 10 files (patients 285 and 339 share three).
  EXPECT_EQ(total(0, Source::ieee8023) + dup(Source::ieee8023, -1), 415 + 12);
  EXPECT_EQ(total(1, Source::ieee8023), 19);
  EXPECT_EQ(total(2, Source::ieee8023), 31);
  EXPECT_EQ(total(3, Source::ieee8023), 21);
  EXPECT_EQ(total(4, Source::ieee8023), 10);
  // Its age column: 370 of the images are adults', one a 12-year-old's, 136 have no age.
  EXPECT_EQ(age_total(Source::ieee8023, AgeGroup::adult), 370);
  EXPECT_EQ(age_total(Source::ieee8023, AgeGroup::child), 1);
  EXPECT_EQ(age_total(Source::ieee8023, AgeGroup::unknown), 136);
  // nih-chestxray14/README.md: 606 images, normal 295 (248 adults), pneumonia 311
  // (294 adults), every age known; none is a copy of another image.
  EXPECT_EQ(total(1, Source::nih), 295);
  EXPECT_EQ(total(4, Source::nih), 311);
  EXPECT_EQ(st.source_images(Source::nih), 606);
  EXPECT_EQ(age_total(Source::nih, AgeGroup::adult), 248 + 294);
  EXPECT_EQ(age_total(Source::nih, AgeGroup::child), 606 - 248 - 294);
  EXPECT_EQ(age_total(Source::nih, AgeGroup::unknown), 0);
  EXPECT_EQ(dup(Source::nih, -1), 0);
  // 84 CT rows, 58 lateral X-rays, 39 X-rays without a view, 28 frontal `todo`
  // rows, 20 frontal rows without a 4-class target (Pneumocystis 13, ARDS 4,
  // Lipoid 3); 14 files absent, of which 4 are lateral or fungal.
  EXPECT_EQ(st.excluded_by_reason(), (std::map<std::string, std::int64_t>{{"finding_without_class", 20},
                                                                          {"not_frontal", 58},
                                                                          {"not_xray", 84},
                                                                          {"unlabelled_finding", 28},
                                                                          {"view_not_recorded", 39}}));
  auto skipped = st.skipped_by_reason();
  EXPECT_EQ(skipped["missing_image"], 10);
  // 000001-27.jpg (Legionella PA, patients 287 and 340) and the three `Pneumonia` files above.
  EXPECT_EQ(skipped["duplicate_metadata_row"], 4);
  EXPECT_EQ(skipped["duplicate_image"], st.duplicates_removed());
  EXPECT_EQ(skipped.size(), 3u) << "unexpected skip reasons: nothing else is wrong with this data";

  // Every target in every split, close to 70:15:15 of each target's images; NIH's
  // normals and pneumonias in every split (stratified by source x target).
  for (int t = 0; t < 5; ++t) {
    const double n = st.count(Split::train, t) + st.count(Split::val, t) + st.count(Split::test, t);
    for (Split s : kSplits) {
      EXPECT_GT(st.count(s, t), 0) << "target " << t << " split " << split_name(s);
      EXPECT_NEAR(st.count(s, t) / n, opt.fractions.of(s), 0.03) << "target " << t << " split " << split_name(s);
    }
  }
  for (Split s : kSplits) {
    EXPECT_GT(st.count(s, 1, Source::nih), 0) << "no NIH normal in " << split_name(s);
    EXPECT_GT(st.count(s, 4, Source::nih), 0) << "no NIH pneumonia in " << split_name(s);
  }

  // No patient in two splits, checked on the written manifest.
  const auto ds = Dataset::open(opt.out_dir);
  ASSERT_EQ(ds.size(), st.images);
  std::map<std::string, Split> split_of;
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const auto [it, added] = split_of.emplace(ds.row(i).patient, ds.row(i).split);
    EXPECT_TRUE(added || it->second == ds.row(i).split) << ds.row(i).patient << " is in two splits";
  }

  // stats.json says the same as the build's result.
  const auto json = boost::json::parse(cxr::test::read_file(opt.out_dir / "stats.json")).as_object();
  EXPECT_EQ(json.at("images").as_int64(), st.images);
  const auto& counts = json.at("counts").as_object();
  const auto& names = ds.target_names();
  for (Split s : kSplits)
    for (int t = 0; t < 5; ++t) {
      const auto& cell = counts.at(split_name(s)).as_object().at(names[t]).as_object();
      for (Source src : kBuildSources)
        EXPECT_EQ(cell.at(source_name(src)).as_int64(), st.count(s, t, src)) << names[t] << " " << source_name(src);
    }
  EXPECT_EQ(json.at("sources").at("nih").at("images").as_int64(), 606);
  EXPECT_EQ(json.at("age_groups").at("all").at("nih").at("adult").as_int64(), 248 + 294);
  EXPECT_EQ(json.at("duplicates").as_object().at("removed").as_int64(), st.duplicates_removed());
}
