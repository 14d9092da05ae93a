// `cxr data build` end to end on synthetic source trees (data/build.h):
// selection, bad input of every kind, duplicates, the patient split (with the NIH
// share: by source x target), the three output files, the manifest's ages and label
// sets, determinism and the all-or-nothing output directory.
#include "base/check.h"
#include "data/build.h"
#include "data/dataset.h"
#include "data/manifest.h"
#include "data_fixtures.h"
#include "engine/data/image.h"

#include <boost/json.hpp>

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
  std::filesystem::path nih = dir / "nih-chestxray14";
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
      row(std::to_string(p), p % 2 ? "Streptococcus" : "Pneumonia/Bacterial/Klebsiella", "PA",
          fmt::format("b{}.jpg", p));
    }
    for (int p = 40; p < 46; ++p) {
      png(covid / fmt::format("images/v{}.png", p));
      row(std::to_string(p), "SARS", "AP", fmt::format("v{}.png", p));
    }
    // Bad input, one of each.
    row("50", "COVID-19", "PA", "absent.png");  // missing_image
    cxr::test::write_file(covid / "images/corrupt.png", "\x89PNG\r\n\x1a\nnot really");
    row("51", "COVID-19", "PA", "corrupt.png");  // corrupt_image
    png(covid / "images/huge.png", 300, 20);
    row("52", "COVID-19", "PA", "huge.png");  // image_too_large (limit 200)
    png(covid / "images/u.png");
    row("53", "Pneumonia/Viral/Mystery", "PA", "u.png");  // unknown_finding
    csv += "54,0,COVID-19,PA,X-ray,images\r\n";           // malformed_csv_row
    png(covid / "images/lat.png");
    row("55", "COVID-19", "L", "lat.png");  // excluded: not_frontal
    png(covid / "images/f.png");
    row("56", "Pneumocystis", "PA", "f.png");  // fungal: 3-class only
    cxr::test::write_file(covid / "metadata.csv", csv);

    const auto k = [&](const std::string& rel) {
      return kermany / rel;
    };
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
    cxr::test::write_file(k("train/NORMAL/.DS_Store"), "junk");  // not_an_image_file
    jpg(k("train/NORMAL/scan.jpeg"));                            // unrecognised_file_name
  }

  // The NIH share: `patients` normal and as many pneumonia patients, every third with
  // two images; ages 8, 20, 32, ... (children and adults), every fifth unknown.
  std::filesystem::path add_nih(int patients) {
    std::string csv = "image,patient_id,age,sex,view,label,nih_finding_labels,expert_flags,original_size\n";
    for (int p = 0; p < 2 * patients; ++p) {
      const bool pneumonia = p >= patients;
      const std::string age = p % 5 == 4 ? "" : std::to_string(8 + 12 * (p % 6));
      for (int k = 0; k < (p % 3 == 0 ? 2 : 1); ++k) {
        const std::string image = fmt::format("{:08d}_{:03d}.jpg", 1000 + p, k);
        jpg(nih / "images" / image);
        csv += fmt::format("{},{},{},F,{},{},{},,1024x1024\n", image, 1000 + p, age, p % 2 ? "AP" : "PA",
                           pneumonia ? "pneumonia" : "normal", pneumonia ? "Infiltration|Pneumonia" : "No Finding");
      }
    }
    cxr::test::write_file(nih / "metadata.csv", csv);
    return nih;
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
  const auto stats =
      build_dataset(src.options("out"), [&](std::string_view stage, std::int64_t done, std::int64_t total) {
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
    EXPECT_EQ(cxr::test::read_file(src.dir / ("a/" + std::string(f))),
              cxr::test::read_file(src.dir / ("b/" + std::string(f))))
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
  EXPECT_THROW(build_dataset(o), cxr::Error);  // no source at all
  o = src.options("x");
  o.num_classes = 5;
  EXPECT_THROW(build_dataset(o), cxr::Error);
}

// The NIH share as a third source: stratified by source x target, so every split
// has NIH normals and NIH pneumonias; ages and age groups reach the manifest and
// stats.json; any non-empty subset of the sources builds.
TEST(DataBuild, NihIsStratifiedBySourceAndTargetAndRecordsAges) {
  Sources src;
  auto opt = src.options("out");
  opt.nih_dir = src.add_nih(12);  // 12 + 12 patients, 32 images
  const auto stats = build_dataset(opt);
  EXPECT_EQ(stats.images, 91 + 32);
  EXPECT_EQ(stats.nih_dir, opt.nih_dir.string());
  for (Split s : kSplits) {
    EXPECT_GT(stats.count(s, 1, Source::nih), 0) << "no NIH normal in " << split_name(s);
    EXPECT_GT(stats.count(s, 4, Source::nih), 0) << "no NIH pneumonia in " << split_name(s);
  }
  EXPECT_EQ(stats.source_images(Source::nih), 32);
  std::int64_t nih_normal = 0;
  for (Split s : kSplits) nih_normal += stats.count(s, 1, Source::nih);
  EXPECT_EQ(nih_normal, 16);

  const auto ds = Dataset::open(src.dir / "out");
  std::map<std::string, Split> split_of;
  std::map<AgeGroup, int> nih_groups;
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const auto& r = ds.row(i);
    const auto [it, added] = split_of.emplace(r.patient, r.split);
    EXPECT_TRUE(added || it->second == r.split) << r.patient << " is in two splits";
    if (r.source == Source::kermany) {
      EXPECT_EQ(r.age_group, AgeGroup::child) << r.source_path;
    } else if (r.source == Source::ieee8023) {
      EXPECT_EQ(r.age_group, AgeGroup::unknown) << r.source_path;  // the fixture has no age column
    }
    if (r.source != Source::nih) continue;
    EXPECT_EQ(r.patient.rfind("nih:", 0), 0u) << r.patient;
    EXPECT_EQ(r.age_group, age_group_of(r.age)) << r.source_path;
    ++nih_groups[r.age_group];
  }
  // Patients 1000..1023: ages 8 + 12 (p % 6) (children at p % 6 == 0), every fifth unknown.
  std::map<AgeGroup, int> expect_groups;
  for (int p = 0; p < 24; ++p) {
    const AgeGroup g = p % 5 == 4 ? AgeGroup::unknown : p % 6 == 0 ? AgeGroup::child : AgeGroup::adult;
    expect_groups[g] += p % 3 == 0 ? 2 : 1;
  }
  EXPECT_EQ(nih_groups, expect_groups);
  std::int64_t counted = 0;
  for (Split s : kSplits)
    for (AgeGroup g : kAgeGroups) counted += stats.count(s, Source::nih, g);
  EXPECT_EQ(counted, 32);

  // stats.json: the new setting, per source x target and per source x age group.
  const auto json = boost::json::parse(cxr::test::read_file(src.dir / "out/stats.json")).as_object();
  EXPECT_EQ(json.at("settings").at("nih_dir").as_string(), opt.nih_dir.string());
  EXPECT_EQ(json.at("settings").at("targets").as_array().size(), 5u);
  const auto& nih = json.at("sources").at("nih").as_object();
  EXPECT_EQ(nih.at("images").as_int64(), 32);
  EXPECT_EQ(nih.at("targets").at("normal").as_int64(), 16);
  EXPECT_EQ(nih.at("targets").at("pneumonia").as_int64(), 16);
  EXPECT_EQ(nih.at("age_groups").at("child").as_int64(), expect_groups[AgeGroup::child]);
  EXPECT_EQ(json.at("sources").at("kermany").at("age_groups").at("child").as_int64(),
            json.at("sources").at("kermany").at("images").as_int64());
  for (Split s : kSplits)
    EXPECT_EQ(json.at("counts").at(split_name(s)).at("pneumonia").at("nih").as_int64(), stats.count(s, 4, Source::nih));

  // 3 classes: NIH pneumonia is other_pneumonia.
  auto three = opt;
  three.out_dir = src.dir / "three";
  three.num_classes = 3;
  const auto st3 = build_dataset(three);
  for (Split s : kSplits) EXPECT_GT(st3.count(s, 2, Source::nih), 0) << split_name(s);

  // NIH alone is a dataset too.
  auto alone = src.options("alone");
  alone.covid_dir.clear();
  alone.kermany_dir.clear();
  alone.nih_dir = opt.nih_dir;
  EXPECT_EQ(build_dataset(alone).images, 32);
}

TEST(DataManifest, RoundTripWithAgesAndALabelSet) {
  TempDir dir;
  std::vector<ManifestRow> rows = {
      {0, Source::ieee8023, "images/a,b.png", "ieee8023:1", 0, Split::train, "AP Supine", std::string(64, 'a'), 55.0,
       AgeGroup::adult},
      {1, Source::kermany, "train/NORMAL/IM-0001-0001.jpeg", "kermany:IM-0001", 1, Split::val, "AP",
       std::string(64, 'b'), std::nullopt, AgeGroup::child},
      {2, Source::nih, "images/00000001_000.jpg", "nih:1", 4, Split::test, "PA", std::string(64, 'c'), 0.5,
       AgeGroup::child},
      {3, Source::upload, "samples/7", "upload:p", 3, Split::train, "", std::string(64, 'd')},
  };
  write_manifest(dir / "m.csv", rows, 4);
  const std::string text = cxr::test::read_file(dir / "m.csv");
  EXPECT_EQ(text.substr(0, text.find('\n')), "id,source,source_path,patient,label,split,view,sha256,age,age_group");
  EXPECT_NE(text.find(",pneumonia,test,PA,"), std::string::npos) << text;
  EXPECT_NE(text.find(",55,adult\n"), std::string::npos) << text;  // the number as written
  EXPECT_NE(text.find(",,child\n"), std::string::npos) << text;    // age unknown
  const auto back = read_manifest(dir / "m.csv", 4);
  ASSERT_EQ(back.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(back[i].source, rows[i].source) << i;
    EXPECT_EQ(back[i].source_path, rows[i].source_path) << i;
    EXPECT_EQ(back[i].label, rows[i].label) << i;
    EXPECT_EQ(back[i].split, rows[i].split) << i;
    EXPECT_EQ(back[i].view, rows[i].view) << i;
    EXPECT_EQ(back[i].age, rows[i].age) << i;
    EXPECT_EQ(back[i].age_group, rows[i].age_group) << i;
  }
  EXPECT_THROW(read_manifest(dir / "m.csv", 3), cxr::Error);  // pneumonia is no target of the 3-class scheme
}

TEST(DataManifest, OlderManifestsWithoutAgesAreRead) {
  TempDir dir;
  cxr::test::write_file(dir / "m.csv",
                        "id,source,source_path,patient,label,split,view,sha256\n"
                        "0,kermany,train/NORMAL/IM-0001-0001.jpeg,kermany:IM-0001,normal,train,AP,00\n"
                        "1,upload,samples/1,upload:x,covid,val,,11\n");
  const auto rows = read_manifest(dir / "m.csv", 4);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_FALSE(r.age);
    EXPECT_EQ(r.age_group, AgeGroup::unknown);
  }
  EXPECT_EQ(rows[1].source, Source::upload);
  EXPECT_EQ(rows[1].label, 0);
}

TEST(DataManifest, MalformedAgesAreRejected) {
  TempDir dir;
  const std::string header = "id,source,source_path,patient,label,split,view,sha256,age,age_group\n";
  auto read_row = [&](const std::string& age, const std::string& group) {
    const std::string row = "0,nih,images/a.jpg,nih:1,normal,train,PA,00," + age + "," + group + "\n";
    cxr::test::write_file(dir / "m.csv", header + row);
    return read_manifest(dir / "m.csv", 4);
  };
  EXPECT_EQ(read_row("40", "adult")[0].age, 40.0);
  EXPECT_EQ(read_row("", "unknown")[0].age_group, AgeGroup::unknown);
  EXPECT_THROW(read_row("forty", "adult"), cxr::Error);
  EXPECT_THROW(read_row("-3", "child"), cxr::Error);
  EXPECT_THROW(read_row("40", "elderly"), cxr::Error);
  EXPECT_THROW(read_row("40", ""), cxr::Error);
  EXPECT_THROW(read_row("40", "child"), cxr::Error);  // contradicts the age
  try {
    read_row("4O", "adult");
    ADD_FAILURE() << "no error for the age '4O'";
  } catch (const cxr::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("m.csv line 2"), std::string::npos) << what;
    EXPECT_NE(what.find("age '4O'"), std::string::npos) << what;
  }
  EXPECT_THROW(read_row("40", "adult,extra"), cxr::Error);  // a field too many
}
