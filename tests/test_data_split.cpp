// The patient-level split (data/split.h): disjoint, stratified, seeded.
#include "base/check.h"
#include "data/split.h"
#include "engine/random.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace cxr::data;

namespace {

// `patients` patients per stratum, each with 1..4 images (seeded), in a scrambled order.
std::vector<SplitItem> make_items(int strata, int patients, std::uint64_t seed) {
  cxr::Generator gen(seed);
  std::vector<SplitItem> items;
  for (int s = 0; s < strata; ++s)
    for (int p = 0; p < patients; ++p) {
      const int images = 1 + static_cast<int>(gen.below(4));
      for (int i = 0; i < images; ++i) items.push_back({fmt::format("s{}-p{}", s, p), s, std::nullopt});
    }
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[gen.below(i)]);
  return items;
}

void expect_patients_disjoint(const std::vector<SplitItem>& items, const std::vector<Split>& splits) {
  std::map<std::string, Split> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto [it, added] = seen.emplace(items[i].patient, splits[i]);
    EXPECT_TRUE(added || it->second == splits[i]) << items[i].patient << " is in two splits";
  }
}

}  // namespace

TEST(DataSplit, ParsesShares) {
  const auto f = parse_split("70:15:15");
  EXPECT_DOUBLE_EQ(f.train, 0.70);
  EXPECT_DOUBLE_EQ(f.val, 0.15);
  EXPECT_DOUBLE_EQ(f.test, 0.15);
  EXPECT_DOUBLE_EQ(parse_split("8:1:1").val, 0.1);
  EXPECT_DOUBLE_EQ(parse_split("1:0:1").val, 0.0);
  EXPECT_THROW(parse_split("70:30"), cxr::Error);
  EXPECT_THROW(parse_split("70:x:15"), cxr::Error);
  EXPECT_THROW(parse_split("70:-5:35"), cxr::Error);
  EXPECT_THROW(parse_split("0:50:50"), cxr::Error);
  EXPECT_THROW(parse_split("70:15:15:0"), cxr::Error);
}

TEST(DataSplit, PatientsNeverSpanSplitsAndStrataFollowTheShares) {
  const int strata = 4, patients = 200;
  const auto items = make_items(strata, patients, 7);
  const std::vector<SplitFractions> fractions(strata, SplitFractions{});
  const auto splits = assign_splits(items, {}, fractions, 42);
  ASSERT_EQ(splits.size(), items.size());
  expect_patients_disjoint(items, splits);

  // A unit (at most 4 images) only goes to the split furthest below its target, so
  // no split ends more than 4 images above its target, and hence none more than
  // 2 x 4 below it (the others' excess).
  std::map<int, std::array<int, 3>> counts;
  for (std::size_t i = 0; i < items.size(); ++i) ++counts[items[i].stratum][static_cast<int>(splits[i])];
  for (const auto& [stratum, c] : counts) {
    const int total = c[0] + c[1] + c[2];
    for (Split s : kSplits)
      EXPECT_NEAR(c[static_cast<int>(s)], fractions[0].of(s) * total, 8.0)
          << "stratum " << stratum << " split " << split_name(s) << " of " << total;
  }
}

TEST(DataSplit, DeterministicForASeedAndDifferentAcrossSeeds) {
  const auto items = make_items(3, 50, 1);
  const std::vector<SplitFractions> f(3, SplitFractions{});
  EXPECT_EQ(assign_splits(items, {}, f, 5), assign_splits(items, {}, f, 5));
  EXPECT_NE(assign_splits(items, {}, f, 5), assign_splits(items, {}, f, 6));
  // Input order does not matter: the same patients land in the same splits.
  auto reversed = items;
  std::reverse(reversed.begin(), reversed.end());
  const auto a = assign_splits(items, {}, f, 5), b = assign_splits(reversed, {}, f, 5);
  std::map<std::string, Split> pa, pb;
  for (std::size_t i = 0; i < items.size(); ++i) pa[items[i].patient] = a[i], pb[reversed[i].patient] = b[i];
  EXPECT_EQ(pa, pb);
}

TEST(DataSplit, SmallStrataStillReachEverySplit) {
  // 3 patients of one image each at 70:15:15: a greedy split alone would leave the
  // test split without this class.
  std::vector<SplitItem> items = {{"a", 0, {}}, {"b", 0, {}}, {"c", 0, {}}};
  const auto splits = assign_splits(items, {}, {SplitFractions{}}, 3);
  std::set<Split> used(splits.begin(), splits.end());
  EXPECT_EQ(used.size(), 3u);
  // Fewer patients than splits: all of them still get a split, no crash.
  EXPECT_EQ(assign_splits({{"a", 0, {}}}, {}, {SplitFractions{}}, 3).size(), 1u);
}

TEST(DataSplit, LinkedPatientsShareASplit) {
  auto items = make_items(2, 40, 3);
  std::vector<std::pair<std::string, std::string>> links;
  for (int p = 0; p + 1 < 40; p += 2) links.emplace_back(fmt::format("s0-p{}", p), fmt::format("s1-p{}", p + 1));
  const auto splits = assign_splits(items, links, std::vector<SplitFractions>(2), 9);
  std::map<std::string, Split> of;
  for (std::size_t i = 0; i < items.size(); ++i) of[items[i].patient] = splits[i];
  for (const auto& [a, b] : links) EXPECT_EQ(of[a], of[b]) << a << " and " << b;
}

TEST(DataSplit, FixedItemsAndZeroShares) {
  auto items = make_items(2, 60, 4);
  // Stratum 1 keeps an official test split: its "p0".."p9" are fixed to test and
  // the rest goes train:val only.
  for (auto& it : items)
    if (it.stratum == 1 && it.patient.size() == 5) it.fixed = Split::test;  // s1-p0 .. s1-p9
  const std::vector<SplitFractions> f = {SplitFractions{}, SplitFractions{0.8, 0.2, 0.0}};
  const auto splits = assign_splits(items, {}, f, 11);
  expect_patients_disjoint(items, splits);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].stratum != 1) continue;
    EXPECT_EQ(splits[i] == Split::test, items[i].fixed.has_value()) << items[i].patient;
  }
}

TEST(DataSplit, RejectsAStratumWithoutShares) {
  EXPECT_THROW(assign_splits({{"a", 2, {}}}, {}, std::vector<SplitFractions>(2), 0), cxr::Error);
}
