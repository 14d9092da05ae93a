// `cxr data build` end to end on synthetic source trees (engine/data/build.h):
// selection, bad input of every kind, duplicates, the patient split, the three
// output files, determinism and the all-or-nothing output directory.
#include "data_fixtures.h"
#include "engine/check.h"
#include "engine/data/build.h"
#include "engine/data/dataset.h"
#include "engine/data/image.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace cxr::data;
using cxr::test::TempDir;

namespace {

// ieee8023: 10 covid patients (12 images), 6 normal, 6 bacterial, 6 viral, 1 fungal,
// and one row or file of each kind of bad input. Kermany: 14 patients per class in train,
// 4 in test, 2 in val, a duplicate image under another patient, and odd files.
struct Sources {
  TempDir dir;
  std::filesystem::path covid = dir / "covid-chestxray-dataset";
  std::filesystem::path kermany = dir / "chest_xray";
  int next_id = 0;

  void png(const std::filesystem::path& p, int w = 24, int h = 20) {
    cxr::test::write_png(p, w, h, 1, cxr::test::pattern(w, h, 1, next_id++));
  }
  void jpg(const std::filesystem::path& p, int w = 20, int h = 24) {
    cxr::test::write_jpg(p, w, h, 3, cxr::test::pattern(w, h, 3, next_id++));
  }

  Sources() {
    std::string csv = "patientid,offset,finding,view,modality,folder,filename,clinical_notes,\r\n";
    auto row = [&](const std::string& patient, const std::string& finding, const std::string& view,
                   const std::string& file, const std::string& notes = "") {
      csv += patient + ",0," + finding + "," + view + ",X-ray,images," + file + "," + notes + ",\r\n";
    };
    for (int p = 1; p <= 10; ++p) {
      png(covid / fmt::format("images/c{}.png", p));
      row(std::to_string(p), p % 2 ? "COVID-19" : "Pneumonia/Viral/COVID-19", p % 3 ? "PA" : "AP Supine",
          fmt::format("c{}.png", p), "\"Fever, cough and \"\"ground glass\"\"\r\nopacities\"");
    }
    jpg(covid / "images/c1b.jpg");
    row("1", "COVID-19", "AP", "c1b.jpg");
    std::vector<std::uint16_t> v16(300);
    for (int i = 0; i < 300; ++i) v16[i] = static_cast<std::uint16_t>(1000 + 9 * i);
    cxr::test::write_file(covid / "images/c2b.png", cxr::test::png16(30, 10, v16));
    row("2", "COVID-19", "PA", "c2b.png");
    for (int p = 20; p < 26; ++p) {
      png(covid / fmt::format("images/n{}.png", p));
      row(std::to_string(p), "No Finding", "PA", fmt::format("n{}.png", p));
    }
    for (int p = 30; p < 36; ++p) {
      jpg(covid / fmt::format("images/b{}.jpg", p));
      row(std::to_string(p), p % 2 ? "Streptococcus" : "Pneumonia/Bacterial/Klebsiella", "PA", fmt::format("b{}.jpg", p));
    }
    for (int p = 40; p < 46; ++p) {
      png(covid / fmt::format("images/v{}.png", p));
      row(std::to_string(p), "SARS", "AP", fmt::format("v{}.png", p));
    }
    // Bad input, one of each.
    row("50", "COVID-19", "PA", "absent.png");                          // missing_image
    cxr::test::write_file(covid / "images/corrupt.png", "\x89PNG\r\n\x1a\nnot really");
    row("51", "COVID-19", "PA", "corrupt.png");                         // corrupt_image
    png(covid / "images/huge.png", 300, 20);
    row("52", "COVID-19", "PA", "huge.png");                            // image_too_large (limit 200)
    png(covid / "images/u.png");
    row("53", "Pneumonia/Viral/Mystery", "PA", "u.png");                // unknown_finding
    csv += "54,0,COVID-19,PA,X-ray,images\r\n";                         // malformed_csv_row
    png(covid / "images/lat.png");
    row("55", "COVID-19", "L", "lat.png");                              // excluded: not_frontal
    png(covid / "images/f.png");
    row("56", "Pneumocystis", "PA", "f.png");                           // fungal: 3-class only
    cxr::test::write_file(covid / "metadata.csv", csv);

    const auto k = [&](const std::string& rel) { return kermany / rel; };
    for (const auto& [split, n] : std::vector<std::pair<std::string, int>>{{"train", 14}, {"test", 4}, {"val", 2}}) {
      const int base = split == "train" ? 100 : split == "test" ? 200 : 300;
      for (int p = base; p < base + n; ++p) {
        jpg(k(fmt::format("{}/NORMAL/IM-{:04d}-0001.jpeg", split, p)));
        jpg(k(fmt::format("{}/PNEUMONIA/person{}_bacteria_{}.jpeg", split, p, 2 * p)));
        jpg(k(fmt::format("{}/PNEUMONIA/person{}_virus_{}.jpeg", split, p, 2 * p + 1)));
      }
    }
    // IM-0999-0001 is a byte copy of IM-0100-0001 (another "patient"); IM-0999 has a
    // second, unique image, which must land in IM-0100's split.
    std::filesystem::copy_file(k("train/NORMAL/IM-0100-0001.jpeg"), k("train/NORMAL/IM-0999-0001.jpeg"));
    jpg(k("train/NORMAL/IM-0999-0002.jpeg"));
    cxr::test::write_file(k("train/NORMAL/.DS_Store"), "junk");           // not_an_image_file
    jpg(k("train/NORMAL/scan.jpeg"));                                      // unrecognised_file_name
  }

  BuildOptions options(const std::string& out) const {
    BuildOptions o;
    o.covid_dir = covid;
    o.kermany_dir = kermany;
    o.out_dir = dir / out;
    o.size = 16;
    o.seed = 3;
    o.limits.max_side = 200;
    o.threads = 2;
    return o;
  }
};

}  // namespace

TEST(DataBuild, BuildsTheDatasetAndAccountsForEveryInput) {
  Sources src;
  std::vector<std::string> stages;
  const auto stats = build_dataset(src.options("out"), [&](std::string_view stage, std::int64_t done, std::int64_t total) {
    EXPECT_LE(done, total);
    stages.emplace_back(stage);
  });
  ASSERT_FALSE(stages.empty());
  EXPECT_EQ(stages.back(), "decoding");

  // Selected: ieee8023 12 covid + 6 normal + 6 bacterial + 6 viral; Kermany 20
  // normal + 1 (IM-0999's unique image; its copy of IM-0100 is removed) + 20 + 20.
  EXPECT_EQ(stats.images, 30 + 61);
  EXPECT_EQ((stats.skipped_by_reason()), (std::map<std::string, std::int64_t>{
                                                    {"corrupt_image", 1},
                                                    {"duplicate_image", 1},
                                                    {"image_too_large", 1},
                                                    {"malformed_csv_row", 1},
                                                    {"missing_image", 1},
                                                    {"not_an_image_file", 1},
                                                    {"unknown_finding", 1},
                                                    {"unrecognised_file_name", 1},
                                                }));
  EXPECT_EQ((stats.excluded_by_reason()),
            (std::map<std::string, std::int64_t>{{"finding_without_class", 1}, {"not_frontal", 1}}));
  ASSERT_EQ(stats.duplicates.size(), 1u);
  EXPECT_EQ(stats.duplicates[0].kept, "kermany/train/NORMAL/IM-0100-0001.jpeg");
  EXPECT_EQ(stats.duplicates[0].removed, (std::vector<std::string>{"kermany/train/NORMAL/IM-0999-0001.jpeg"}));
  EXPECT_EQ(stats.duplicates_removed(), 1);

  std::int64_t total = 0;
  for (int c = 0; c < 4; ++c)
    for (Split s : kSplits) {
      EXPECT_GT(stats.count(s, c), 0) << "class " << c << " missing from " << split_name(s);
      total += stats.count(s, c);
    }
  EXPECT_EQ(total, stats.images);
  EXPECT_EQ(stats.count(Split::train, 0, Source::kermany), 0);

  // The directory: three files, no staging leftovers beside it.
  const auto out = src.dir / "out";
  for (const char* f : {"cache.bin", "manifest.csv", "stats.json"}) EXPECT_TRUE(std::filesystem::exists(out / f)) << f;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(out), {}), 3);
  for (const auto& e : std::filesystem::directory_iterator(src.dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".out."), std::string::npos) << e.path();

  const auto ds = Dataset::open(out);
  ASSERT_EQ(ds.size(), stats.images);
  EXPECT_EQ(ds.image_size(), 16);
  EXPECT_EQ(ds.num_classes(), 4);
  EXPECT_NEAR(ds.mean(), stats.pixel_mean, 1e-6);
  EXPECT_NEAR(ds.stddev(), stats.pixel_std, 1e-6);

  // No patient in two splits; the duplicate's other image follows the kept copy.
  std::map<std::string, Split> split_of;
  std::map<std::string, int> label_of;
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const auto& r = ds.row(i);
    EXPECT_EQ(r.id, i);
    EXPECT_EQ(r.sha256.size(), 64u);
    const auto [it, added] = split_of.emplace(r.patient, r.split);
    EXPECT_TRUE(added || it->second == r.split) << r.patient;
    label_of[r.source_path] = r.label;
  }
  EXPECT_EQ(split_of.at("kermany:IM-0999"), split_of.at("kermany:IM-0100"));
  EXPECT_EQ(label_of.at("images/c2b.png"), 0);
  EXPECT_EQ(label_of.at("images/b31.jpg"), 2);
  EXPECT_EQ(label_of.at("images/b30.jpg"), 2);
  EXPECT_EQ(label_of.at("images/v40.png"), 3);
  EXPECT_EQ(label_of.at("test/PNEUMONIA/person200_virus_401.jpeg"), 3);

  // The cached pixels are exactly decode + fit_square of the source file.
  for (std::int64_t i = 0; i < ds.size(); i += 7) {
    const auto& r = ds.row(i);
    const auto root = r.source == Source::ieee8023 ? src.covid : src.kermany;
    const std::string bytes = cxr::test::read_file(root / r.source_path);
    const auto d = decode_grey(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), {});
    ASSERT_TRUE(d.ok());
    std::vector<std::uint8_t> expect(256);
    fit_square(expect.data(), 16, d.image, Fit::pad);
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), ds.pixels(i))) << r.source_path;
  }
}

TEST(DataBuild, SameSeedSameBytesWhateverTheThreadCount) {
  Sources src;
  auto a = src.options("a");
  auto b = src.options("b");
  b.threads = 1;
  build_dataset(a);
  build_dataset(b);
  for (const char* f : {"cache.bin", "manifest.csv", "stats.json"})
    EXPECT_EQ(cxr::test::read_file(src.dir / ("a/" + std::string(f))), cxr::test::read_file(src.dir / ("b/" + std::string(f))))
        << f;
  auto c = src.options("c");
  c.seed = 4;
  build_dataset(c);
  EXPECT_NE(cxr::test::read_file(src.dir / "a/manifest.csv"), cxr::test::read_file(src.dir / "c/manifest.csv"));
}

TEST(DataBuild, OutputAppearsOnlyWhenCompleteAndIsNeverClobbered) {
  Sources src;
  auto bad = src.options("out");
  bad.covid_dir = src.dir / "nowhere";  // no metadata.csv: the build fails
  EXPECT_THROW(build_dataset(bad), cxr::Error);
  EXPECT_FALSE(std::filesystem::exists(src.dir / "out"));
  for (const auto& e : std::filesystem::directory_iterator(src.dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".out."), std::string::npos) << e.path();

  const auto opt = src.options("out");
  build_dataset(opt);
  EXPECT_THROW(build_dataset(opt), cxr::Error);  // exists
  auto again = opt;
  again.overwrite = true;
  again.size = 8;
  build_dataset(again);
  EXPECT_EQ(Dataset::open(src.dir / "out").image_size(), 8);
}

TEST(DataBuild, KeepingKermanysOfficialTestSplit) {
  Sources src;
  auto opt = src.options("out");
  opt.keep_kermany_test = true;
  build_dataset(opt);
  const auto ds = Dataset::open(src.dir / "out");
  int kermany_test = 0;
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const auto& r = ds.row(i);
    if (r.source != Source::kermany) continue;
    const bool official_test = r.source_path.rfind("test/", 0) == 0;
    EXPECT_EQ(r.split == Split::test, official_test) << r.source_path;
    kermany_test += official_test;
  }
  EXPECT_EQ(kermany_test, 12);
}

TEST(DataBuild, ThreeClassesAndBadOptions) {
  Sources src;
  auto opt = src.options("out");
  opt.num_classes = 3;
  const auto stats = build_dataset(opt);
  EXPECT_EQ(stats.images, 92);  // + the fungal pneumonia image
  EXPECT_EQ(Dataset::open(src.dir / "out").class_names().back(), "other_pneumonia");

  auto o = src.options("x");
  o.size = 4;
  EXPECT_THROW(build_dataset(o), cxr::Error);
  o = src.options("x");
  o.covid_dir.clear();
  o.kermany_dir.clear();
  EXPECT_THROW(build_dataset(o), cxr::Error);
  o = src.options("x");
  o.num_classes = 5;
  EXPECT_THROW(build_dataset(o), cxr::Error);
}
