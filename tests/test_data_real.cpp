// Integration test on the real data in ../shared/data (CXR_SHARED_DATA): the
// dataset build at 64 px must reproduce the counts of shared/data/README.md, keep
// every patient in one split and every class in every split. Skipped when the
// folder is absent.
#include "data_fixtures.h"
#include "engine/data/build.h"
#include "engine/data/csv.h"
#include "engine/data/dataset.h"
#include "engine/data/kermany.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

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

#define REQUIRE_SHARED_DATA()                                                                   \
  const fs::path root = shared_data();                                                          \
  if (root.empty() || !fs::is_directory(root / "covid-chestxray-dataset") ||                    \
      !fs::is_directory(root / "chest_xray"))                                                   \
  GTEST_SKIP() << "real data not found (CXR_SHARED_DATA=" << root.string()                     \
               << "); this test needs covid-chestxray-dataset/ and chest_xray/ there"

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
  auto dup = [&](Source src, int label) { return removed[{src, label}]; };
  auto total = [&](int label, Source src) {
    std::int64_t n = 0;
    for (Split s : kSplits) n += st.count(s, label, src);
    return n;
  };
  // README, Kermany: 1583 normal, 2780 bacteria, 1493 virus; all decode.
  EXPECT_EQ(total(1, Source::kermany) + dup(Source::kermany, 1), 1583);
  EXPECT_EQ(total(2, Source::kermany) + dup(Source::kermany, 2), 2780);
  EXPECT_EQ(total(3, Source::kermany) + dup(Source::kermany, 3), 1493);
  EXPECT_EQ(total(0, Source::kermany), 0);
  // README, ieee8023 X-ray frontal with the image present: COVID-19 415 and
  // "COVID-19, ARDS" 12; No Finding 19. Bacterial (Streptococcus 11 present of 13,
  // Klebsiella 7, E.Coli 4, Legionella 3 files in 4 rows, Mycoplasma 4, Bacterial 2)
  // 31; viral (SARS 16, Varicella 4, Influenza 1) 21.
  EXPECT_EQ(total(0, Source::ieee8023) + dup(Source::ieee8023, -1), 415 + 12);
  EXPECT_EQ(total(1, Source::ieee8023), 19);
  EXPECT_EQ(total(2, Source::ieee8023), 31);
  EXPECT_EQ(total(3, Source::ieee8023), 21);
  // 84 CT rows, 58 lateral X-rays, 39 X-rays without a view, 28 frontal `todo`
  // rows, 33 frontal rows without a 4-class class (Pneumocystis 13, Pneumonia 13,
  // ARDS 4, Lipoid 3); 14 files absent, of which 4 are lateral or fungal.
  EXPECT_EQ(st.excluded_by_reason(), (std::map<std::string, std::int64_t>{{"finding_without_class", 33},
                                                                          {"not_frontal", 58},
                                                                          {"not_xray", 84},
                                                                          {"unlabelled_finding", 28},
                                                                          {"view_not_recorded", 39}}));
  auto skipped = st.skipped_by_reason();
  EXPECT_EQ(skipped["missing_image"], 10);
  EXPECT_EQ(skipped["duplicate_metadata_row"], 1);  // 000001-27.jpg, Legionella PA, patients 287 and 340
  EXPECT_EQ(skipped["duplicate_image"], st.duplicates_removed());
  EXPECT_EQ(skipped.size(), 3u) << "unexpected skip reasons: nothing else is wrong with this data";

  // Every class in every split, close to 70:15:15 of each class's images.
  for (int c = 0; c < 4; ++c) {
    const double n = st.count(Split::train, c) + st.count(Split::val, c) + st.count(Split::test, c);
    for (Split s : kSplits) {
      EXPECT_GT(st.count(s, c), 0) << "class " << c << " split " << split_name(s);
      EXPECT_NEAR(st.count(s, c) / n, opt.fractions.of(s), 0.03) << "class " << c << " split " << split_name(s);
    }
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
  const auto& names = ds.class_names();
  for (Split s : kSplits)
    for (int c = 0; c < 4; ++c) {
      const auto& cell = counts.at(split_name(s)).as_object().at(names[c]).as_object();
      EXPECT_EQ(cell.at("ieee8023").as_int64(), st.count(s, c, Source::ieee8023));
      EXPECT_EQ(cell.at("kermany").as_int64(), st.count(s, c, Source::kermany));
    }
  EXPECT_EQ(json.at("duplicates").as_object().at("removed").as_int64(), st.duplicates_removed());
}
