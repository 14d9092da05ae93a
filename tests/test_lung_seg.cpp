// The chest X-ray lung-field segmenter's data (models/lung_seg_data.h) on a synthetic
// ieee8023 folder: mask/image pairing, the patient split that follows a classifier's
// manifest, skipped masks, the mask resize; and the lung-fields task's names. The
// real masks are scored by `cxr lungs train|eval` (docs/evaluation.md), not here.
// Also the predicted masks that replace the lung prior (models/lung_mask_prediction.h).
#include "data_fixtures.h"
#include "expect_error.h"

#include "data/dataset.h"
#include "engine/data/cache_file.h"
#include "models/lung_mask_prediction.h"
#include "models/lung_seg_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace cxr {
namespace {

using test::TempDir;
using testing::expect_error_mentioning;

// metadata.csv with patients 1..6 (two images for patient 1, one file shared by
// patients 5 and 6), their images, and masks for all of them plus one without an image.
void write_folder(const TempDir& dir) {
  test::write_file(dir / "metadata.csv",
                   "patientid,finding,folder,filename\n"
                   "1,COVID-19,images,a.jpg\n1,COVID-19,images,b.png\n2,COVID-19,images,c.jpg\n"
                   "3,Normal,images,d.jpg\n4,COVID-19,images,e.jpg\n5,COVID-19,images,f.jpg\n"
                   "6,COVID-19,images,f.jpg\n");
  for (const char* name : {"a.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"})
    test::write_jpg(dir / "images" / name, 8, 6, 1, test::pattern(8, 6, 1, 1));
  test::write_png(dir / "images/b.png", 8, 6, 1, test::pattern(8, 6, 1, 2));
  std::vector<std::uint8_t> mask(4 * 3, 0);
  mask[0] = 255;  // top-left quarter-cell only
  for (const char* stem : {"a", "b", "c", "d", "f", "gone"})
    test::write_png(dir / "annotations/lungVAE-masks" / (std::string(stem) + "_mask.png"), 4, 3, 1, mask);
  test::write_png(dir / "annotations/lungVAE-masks/e_mask.png.png", 4, 3, 1, mask);  // as four upstream files
  test::write_file(dir / "annotations/lungVAE-masks/README.md", "not a mask");
}

data::ManifestRow manifest_row(const std::string& patient, data::Split split) {
  data::ManifestRow row;
  row.patient = patient;
  row.split = split;
  return row;
}

TEST(LungSegData, PairsMasksWithImagesAndPatients) {
  TempDir dir;
  write_folder(dir);
  const LungMaskPairs found = find_lung_mask_pairs(dir.path(), {}, {}, 1);
  ASSERT_EQ(found.pairs.size(), 6u);
  EXPECT_EQ(found.no_image, std::vector<std::string>{"gone"});
  EXPECT_EQ(found.pairs[0].id, "a");
  EXPECT_EQ(found.pairs[0].patient, "ieee8023:1");
  EXPECT_EQ(found.pairs[1].image, dir / "images/b.png");
  EXPECT_EQ(found.pairs[5].patient, "ieee8023:5") << "a shared file takes its first patient";
}

TEST(LungSegData, ClassifierPatientsKeepTheirSplitAndPatientsStayTogether) {
  TempDir dir;
  write_folder(dir);
  const std::vector<data::ManifestRow> classifier = {
      manifest_row("ieee8023:1", data::Split::test), manifest_row("ieee8023:2", data::Split::val),
      manifest_row("ieee8023:6", data::Split::test), manifest_row("ieee8023:9", data::Split::train)};
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const LungMaskPairs found = find_lung_mask_pairs(dir.path(), classifier, {}, seed);
    std::map<std::string, data::Split> by_id;
    for (const LungMaskPair& p : found.pairs) by_id[p.id] = p.split;
    EXPECT_EQ(by_id.at("a"), data::Split::test);
    EXPECT_EQ(by_id.at("b"), data::Split::test) << "the same patient as a";
    EXPECT_EQ(by_id.at("c"), data::Split::val);
    EXPECT_EQ(by_id.at("f"), data::Split::test) << "patient 5 shares f with the classifier's test patient 6";
  }
}

TEST(LungSegData, MaskIsResizedToTheImageByNearestNeighbour) {
  const data::GreyImage mask{2, 2, {255, 0, 127, 128}};
  EXPECT_EQ(resize_mask(mask, 4, 2), (std::vector<std::uint8_t>{1, 1, 0, 0, 0, 0, 1, 1}));
  TempDir dir;
  write_folder(dir);
  const LungMaskPairs found = find_lung_mask_pairs(dir.path(), {}, {}, 1);
  const SegSlice slice = load_lung_slice(found.pairs[0]);
  ASSERT_EQ(slice.labels.size(), 8u * 6u);
  EXPECT_EQ(slice.labels[0], 1);  // the mask's top-left cell covers 2 x 2 image pixels
  EXPECT_EQ(slice.labels[1 * 8 + 1], 1);
  EXPECT_EQ(slice.labels[2 * 8 + 2], 0);
  EXPECT_EQ(std::count(slice.labels.begin(), slice.labels.end(), 1), 4);
}

TEST(LungSegData, LungFieldsTaskIsOneChannelNamedLungs) {
  EXPECT_EQ(parse_seg_task("lung-fields"), SegTask::lung_fields);
  EXPECT_EQ(seg_task_name(SegTask::lung_fields), "lung-fields");
  EXPECT_EQ(seg_class_count(SegTask::lung_fields), 1);
  EXPECT_EQ(seg_class_names(SegTask::lung_fields), std::vector<std::string>{"lungs"});
  EXPECT_TRUE(seg_target(SegTask::lung_fields, 0, 1));
  EXPECT_FALSE(seg_target(SegTask::lung_fields, 0, 0));
}

TEST(LungSegData, BadFoldersGiveClearErrors) {
  TempDir dir;
  expect_error_mentioning([&] { find_lung_mask_pairs(dir.path(), {}, {}, 1); }, {"lungVAE-masks", "not a directory"});
  write_folder(dir);
  test::write_file(dir / "metadata.csv", "patient,file\n1,a.jpg\n");
  expect_error_mentioning([&] { find_lung_mask_pairs(dir.path(), {}, {}, 1); }, {"patientid", "filename"});
  expect_error_mentioning([] { resize_mask({}, 4, 4); }, {"resize_mask"});
}

// A built dataset of two 16 x 16 images: a Kermany one with a bright left half, and a black one.
data::Dataset two_image_dataset(const TempDir& dir) {
  data::CacheWriter cache(dir / "data" / "cache.bin", {2, 16, 4, 0.5f, 0.25f});
  std::vector<std::uint8_t> half(256, 0);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 8; ++x) half[y * 16 + x] = 200;
  cache.write(half.data());
  cache.write(std::vector<std::uint8_t>(256, 0).data());
  cache.close();
  std::vector<data::ManifestRow> rows(2);
  for (int i = 0; i < 2; ++i)
    rows[i] = {i,    data::Source::kermany, "NORMAL/x.jpeg", "p" + std::to_string(i), 1, data::Split::test,
               "PA", std::string(64, '0')};
  data::write_manifest(dir / "data" / "manifest.csv", rows, 4);
  return data::Dataset::open(dir / "data");
}

TEST(LungMaskPrediction, PredictedMasksReplaceThePriorForTheImagesGiven) {
  TempDir dir;
  std::filesystem::create_directories(dir / "data");
  const data::Dataset ds = two_image_dataset(dir);
  SegNetConfig config;
  config.input_size = 16;
  config.widths = {4, 8};
  SegModel lungs = make_seg_model(SegTask::lung_fields, config, 3);
  LungFields fields;
  EXPECT_EQ(fields.mask(0), nullptr);
  const std::vector<std::int64_t> first = {0};
  add_predicted_lung_masks(fields, lungs, ds, first, 10);
  ASSERT_NE(fields.mask(0), nullptr);
  EXPECT_TRUE(fields.predicted(0));
  EXPECT_FALSE(fields.predicted(1));
  EXPECT_EQ(fields.mask(1), nullptr) << "only the images given";
  const std::vector<std::uint8_t>& mask = *fields.mask(0);
  ASSERT_EQ(mask.size(), 100u);
  EXPECT_TRUE(std::all_of(mask.begin(), mask.end(), [](std::uint8_t v) { return v <= 1; }));
  // The same as segmenting the cached square by hand and resizing it.
  data::GreyImage square{16, 16, std::vector<std::uint8_t>(ds.pixels(0), ds.pixels(0) + 256)};
  SegPrediction by_hand = predict_seg(lungs, square);
  for (auto& v : by_hand.labels) v = v ? 255 : 0;
  EXPECT_EQ(mask, resize_mask({16, 16, by_hand.labels}, 10, 10));

  SegModel ct = make_seg_model(SegTask::infection, config, 3);
  expect_error_mentioning([&] { add_predicted_lung_masks(fields, ct, ds, first, 10); }, {"lung-fields", "infection"});
  expect_error_mentioning([&] { predict_lung_map(lungs, ds, 2, 10); }, {"image 2 of 2"});
}

}  // namespace
}  // namespace cxr
