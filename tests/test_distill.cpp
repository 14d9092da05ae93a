// Knowledge distillation in the trainer (TrainOptions::distill_from): the teacher
// probabilities file (models/teacher_probabilities.h) and its clear errors, and a
// fine-tune on training labels that are all wrong with a teacher that is right, so
// that what the student learns can only have come from the teacher.
#include "data_fixtures.h"
#include "expect_error.h"
#include "finetune_fixtures.h"

#include "data/dataset.h"
#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "engine/random.h"
#include "models/dataset_eval.h"
#include "models/model_file.h"
#include "models/teacher_probabilities.h"
#include "models/train_state.h"
#include "models/trainer.h"

#include <fmt/format.h>

#include <string>

using namespace cxr;
using cxr::test::TempDir;
using cxr::testing::expect_error_mentioning;

namespace {

constexpr int kSize = 24;

// The stripes task (tests/finetune_fixtures.h) with every training label shifted to
// (orientation + 1) mod 4; validation and test labels are the orientation.
void write_mislabelled_stripes(const std::filesystem::path& dir, int train, int val, int test_images) {
  std::filesystem::create_directories(dir);
  Generator gen(21);
  const int total = train + val + test_images;
  data::CacheWriter cache(dir / "cache.bin", {static_cast<std::uint64_t>(total), kSize, 4, 0.5f, 0.25f});
  std::vector<data::ManifestRow> rows;
  for (int i = 0; i < total; ++i) {
    const int orientation = i % 4;
    cache.write(test::stripes(kSize, orientation, gen).data());
    const data::Split split = i < train ? data::Split::train : i < train + val ? data::Split::val : data::Split::test;
    const int label = split == data::Split::train ? (orientation + 1) % 4 : orientation;
    rows.push_back({i, data::Source::kermany, fmt::format("s{}.png", i), fmt::format("kermany:s{}", i), label, split,
                    "PA", std::string(64, '0')});
  }
  cache.close();
  data::write_manifest(dir / "manifest.csv", rows, 4);
}

int orientation_of(std::int64_t index) {
  return static_cast<int>(index % 4);
}

class Distill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_mislabelled_stripes(data_dir(), 256, 64, 32);
    LoadedModel m = test::tiny_four_class_model(kSize, 7);
    save_model(init_path().string(), *m.net, m.info);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::filesystem::path data_dir() { return *dir_ / "data"; }
  static std::filesystem::path init_path() { return *dir_ / "init.safetensors"; }
  static std::filesystem::path file(const std::string& name) { return *dir_ / name; }

  // A teacher that calls each image's orientation with probability 0.97.
  static std::string right_teacher_csv(const data::Dataset& ds) {
    std::string csv = "id,source_path,covid,normal,bacterial,viral\n";
    for (std::int64_t i = 0; i < ds.size(); ++i) {
      const int called = orientation_of(i);
      csv += fmt::format("{},{}", ds.row(i).id, ds.row(i).source_path);
      for (int c = 0; c < 4; ++c) csv += c == called ? ",0.97" : ",0.01";
      csv += "\n";
    }
    return csv;
  }

  static TempDir* dir_;
};
TempDir* Distill::dir_ = nullptr;

TEST_F(Distill, TeacherFileErrorsNameTheFileAndLine) {
  const std::vector<std::string> classes = data::class_names(4);
  auto read = [&](const std::string& name, const std::string& text) {
    test::write_file(file(name), text);
    TeacherProbabilities::read(file(name), classes);
  };
  expect_error_mentioning([&] { read("no_id.csv", "covid,normal,bacterial,viral\n0.25,0.25,0.25,0.25\n"); },
                          {"no_id.csv", "'id'"});
  expect_error_mentioning([&] { read("no_viral.csv", "id,covid,normal,bacterial\n1,0.5,0.25,0.25\n"); },
                          {"no_viral.csv", "'viral'"});
  expect_error_mentioning([&] { read("range.csv", "id,covid,normal,bacterial,viral\n1,1.5,-0.5,0,0\n"); },
                          {"range.csv", "line 2", "[0, 1]"});
  expect_error_mentioning([&] { read("nan.csv", "id,covid,normal,bacterial,viral\n1,nan,0.5,0.25,0.25\n"); },
                          {"nan.csv", "line 2", "'nan'"});
  expect_error_mentioning([&] { read("sum.csv", "id,covid,normal,bacterial,viral\n1,0.5,0.5,0.5,0\n"); },
                          {"sum.csv", "line 2", "sum to 1.5"});
  expect_error_mentioning(
      [&] { read("twice.csv", "id,covid,normal,bacterial,viral\n1,0.25,0.25,0.25,0.25\n1,1,0,0,0\n"); },
      {"twice.csv", "line 3", "id 1 appears twice"});
  expect_error_mentioning([&] { read("bad_id.csv", "id,covid,normal,bacterial,viral\nx,0.25,0.25,0.25,0.25\n"); },
                          {"bad_id.csv", "'x'"});
  expect_error_mentioning([&] { read("empty.csv", "id,covid,normal,bacterial,viral\n"); }, {"empty.csv", "no rows"});

  // A file that misses training images is refused before any training.
  const data::Dataset ds = data::Dataset::open(data_dir());
  test::write_file(file("partial.csv"), "id,covid,normal,bacterial,viral\n0,0.25,0.25,0.25,0.25\n");
  TrainOptions o;
  o.data_dir = data_dir();
  o.out = file("partial") / "model.safetensors";
  o.distill_from = file("partial.csv");
  expect_error_mentioning([&] { train(o); }, {"partial.csv", "255 of the 256 training images", "first: id 1"});
  o.extra_data = data_dir();
  expect_error_mentioning([&] { train(o); }, {"--extra-data cannot be distilled"});
}

TEST_F(Distill, TheStudentFollowsTheTeacherNotTheLabels) {
  const data::Dataset ds = data::Dataset::open(data_dir());
  test::write_file(file("teacher.csv"), right_teacher_csv(ds));
  TrainOptions o;
  o.data_dir = data_dir();
  o.out = file("student") / "model.safetensors";
  std::filesystem::create_directories(o.out.parent_path());
  o.init_model = init_path();
  o.distill_from = file("teacher.csv");
  o.epochs = 20;
  o.batch = 16;
  o.lr = 3e-3;
  o.workers = 1;
  o.patience = 0;
  train(o);

  // The options travel with the checkpoint (a resume must distill from the same file).
  EXPECT_EQ(train_options_from_json(to_json(o)).distill_from, o.distill_from);

  LoadedModel student = load_model(o.out.string());
  const auto test_idx = ds.indices(data::Split::test);
  const std::vector<double> p = dataset_probabilities(*student.net, student.info, ds, test_idx);
  int follows_teacher = 0;
  for (std::size_t j = 0; j < test_idx.size(); ++j) {
    int best = 0;
    for (int c = 1; c < 4; ++c)
      if (p[j * 4 + c] > p[j * 4 + best]) best = c;
    follows_teacher += best == orientation_of(test_idx[j]);
  }
  // Chance is 8 of 32; a student that learnt the (shifted) training labels would score ~0;
  // this one scored 30 of 32 on the 2-core VM (20 epochs).
  EXPECT_GE(follows_teacher, 24) << follows_teacher << " of " << test_idx.size();
}

}  // namespace
