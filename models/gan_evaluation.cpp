#include "models/gan_evaluation.h"

#include "base/check.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/feature_head.h"
#include "models/frechet_distance.h"
#include "models/gan_data.h"
#include "models/inference.h"
#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cxr {

namespace {

// Images as fitted squares of the dataset's side, the classifier's input before normalisation.
using Squares = std::vector<std::vector<std::uint8_t>>;

FeatureRows penultimate_features(LoadedModel& model, const Squares& squares, int side, int batch) {
  model.net->eval();
  NoGradGuard no_grad;
  FeatureRows out;
  const int s = model.info.config.input_size;
  for (std::size_t first = 0; first < squares.size(); first += batch) {
    const std::size_t n = std::min<std::size_t>(batch, squares.size() - first);
    Tensor x = Tensor::empty({static_cast<std::int64_t>(n), 1, s, s});
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor one = normalised_input(squares[first + i].data(), side, model.info);
      std::copy(one.data<float>(), one.data<float>() + one.numel(), x.data<float>() + i * one.numel());
    }
    const Tensor pooled =
        global_avg_pool2d(model.net->features(x.to(model.net->device()))).to(Device::cpu()).to(DType::F64).contiguous();
    const std::int64_t d = pooled.size(1);
    for (std::size_t i = 0; i < n; ++i)
      out.emplace_back(pooled.data<double>() + i * d, pooled.data<double>() + (i + 1) * d);
  }
  return out;
}

// GAN-range images [M, 1, S, S] -> squares of the dataset's side (enlarged as the
// dataset build resizes: stb's filter).
Squares enlarge(const Tensor& images, int side) {
  const int s = static_cast<int>(images.size(2));
  Squares out;
  for (std::int64_t i = 0; i < images.size(0); ++i) {
    data::GreyImage small{s, s, std::vector<std::uint8_t>(static_cast<std::size_t>(s) * s)};
    const float* p = images.data<float>() + i * s * s;
    for (std::size_t k = 0; k < small.pixels.size(); ++k) small.pixels[k] = gan_pixel_to_byte(p[k]);
    std::vector<std::uint8_t> big(static_cast<std::size_t>(side) * side);
    data::fit_square(big.data(), side, small, data::Fit::pad);
    out.push_back(std::move(big));
  }
  return out;
}

Squares dataset_squares(const data::Dataset& dataset, const std::vector<std::int64_t>& rows) {
  const std::size_t plane = static_cast<std::size_t>(dataset.image_size()) * dataset.image_size();
  Squares out;
  for (const std::int64_t r : rows) out.emplace_back(dataset.pixels(r), dataset.pixels(r) + plane);
  return out;
}

double distance(const float* a, const float* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(n));  // RMS, in [-1, 1] units
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

struct Nearest {
  std::vector<std::int64_t> index;
  std::vector<double> distance;
};

Nearest nearest_pixels(const Tensor& queries, const Tensor& train) {
  const std::int64_t plane = queries.size(2) * queries.size(3);
  Nearest out;
  for (std::int64_t q = 0; q < queries.size(0); ++q) {
    double best = std::numeric_limits<double>::infinity();
    std::int64_t arg = 0;
    for (std::int64_t t = 0; t < train.size(0); ++t) {
      const double d = distance(queries.data<float>() + q * plane, train.data<float>() + t * plane, plane);
      if (d < best) best = d, arg = t;
    }
    out.index.push_back(arg);
    out.distance.push_back(best);
  }
  return out;
}

Nearest nearest_features(const FeatureRows& queries, const FeatureRows& train) {
  Nearest out;
  for (const auto& q : queries) {
    double best = std::numeric_limits<double>::infinity();
    std::int64_t arg = 0;
    for (std::size_t t = 0; t < train.size(); ++t) {
      const double d = distance(q, train[t]);
      if (d < best) best = d, arg = static_cast<std::int64_t>(t);
    }
    out.index.push_back(arg);
    out.distance.push_back(best);
  }
  return out;
}

NearestSummary summarize(std::vector<double> d) {
  std::sort(d.begin(), d.end());
  const auto at = [&](double q) {
    return d[static_cast<std::size_t>(q * static_cast<double>(d.size() - 1))];
  };
  return {at(0.5), at(0.05), d.front()};
}

}  // namespace

GanEvaluation evaluate_gan(GanTrainer& gan, const data::Dataset& dataset, LoadedModel& classifier,
                           const GanEvaluationOptions& options, void (*log)(const std::string&)) {
  const auto say = [&](const std::string& line) {
    if (log != nullptr) log(line);
  };
  CXR_CHECK(dataset.class_names() == classifier.info.class_names,
            "GAN evaluation: the dataset's classes differ from the classifier's");
  CXR_CHECK(dataset.image_size() == classifier.info.fit_size(),
            "GAN evaluation: the dataset's images are {} px, the classifier was trained on {} px", dataset.image_size(),
            classifier.info.fit_size());
  const int side = dataset.image_size(), s = gan.config().image_size, batch = options.batch_size;
  const int classes = static_cast<int>(dataset.class_names().size());
  const auto class_it = std::find(dataset.class_names().begin(), dataset.class_names().end(), options.class_name);
  CXR_CHECK(class_it != dataset.class_names().end(), "GAN evaluation: no class '{}'", options.class_name);
  const int class_label = static_cast<int>(class_it - dataset.class_names().begin());

  GanEvaluation e;
  e.class_names = dataset.class_names();
  e.gan_size = s;
  e.dataset_size = side;
  const GanImages train = load_gan_images(dataset, data::Split::train, options.class_name, s);
  const GanImages test = load_gan_images(dataset, data::Split::test, options.class_name, s);
  e.generated_images = sample_gan(gan.generator(), gan.config().latent, options.generated, options.sample_seed);
  e.train_images = train.images;
  e.train_real = static_cast<std::int64_t>(train.rows.size());
  e.test_real = static_cast<std::int64_t>(test.rows.size());
  e.generated = options.generated;

  say("features of the generated and the class's real images");
  const FeatureRows f_generated = penultimate_features(classifier, enlarge(e.generated_images, side), side, batch);
  const FeatureRows f_train_small = penultimate_features(classifier, enlarge(train.images, side), side, batch);
  const FeatureRows f_test_small = penultimate_features(classifier, enlarge(test.images, side), side, batch);
  const FeatureRows f_train = penultimate_features(classifier, dataset_squares(dataset, train.rows), side, batch);
  const FeatureRows f_test = penultimate_features(classifier, dataset_squares(dataset, test.rows), side, batch);
  e.fd_generated_train_small = frechet_distance(f_generated, f_train_small);
  e.fd_test_train_small = frechet_distance(f_test_small, f_train_small);
  e.fd_generated_test_small = frechet_distance(f_generated, f_test_small);
  e.fd_test_train = frechet_distance(f_test, f_train);

  const Nearest pixel_generated = nearest_pixels(e.generated_images, train.images);
  const Nearest feature_generated = nearest_features(f_generated, f_train_small);
  e.pixel_generated = summarize(pixel_generated.distance);
  e.pixel_test = summarize(nearest_pixels(test.images, train.images).distance);
  e.feature_generated = summarize(feature_generated.distance);
  e.feature_test = summarize(nearest_features(f_test_small, f_train_small).distance);
  std::vector<std::int64_t> order(e.generated);
  for (std::int64_t i = 0; i < e.generated; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::int64_t a, std::int64_t b) { return pixel_generated.distance[a] < pixel_generated.distance[b]; });
  for (std::size_t k = 0; k < std::min<std::size_t>(8, order.size()); ++k) {
    const std::int64_t g = order[k];
    e.closest.push_back({g, pixel_generated.index[g], feature_generated.index[g], pixel_generated.distance[g]});
  }

  say("features of every train and test image with a class label");
  std::vector<std::int64_t> train_rows, test_rows;
  for (const std::int64_t r : dataset.indices(data::Split::train))
    if (dataset.label(r) < classes) train_rows.push_back(r);
  for (const std::int64_t r : dataset.indices(data::Split::test))
    if (dataset.label(r) < classes) test_rows.push_back(r);
  const FeatureRows f_all_train = penultimate_features(classifier, dataset_squares(dataset, train_rows), side, batch);
  const FeatureRows f_all_test = penultimate_features(classifier, dataset_squares(dataset, test_rows), side, batch);
  std::vector<int> train_labels, test_labels;
  for (const std::int64_t r : train_rows) train_labels.push_back(dataset.label(r));
  for (const std::int64_t r : test_rows) test_labels.push_back(dataset.label(r));

  // The control adds as many shrunk-and-enlarged real images as there are generated
  // ones, cycling through the class's train images.
  FeatureRows control;
  for (std::int64_t i = 0; i < e.generated; ++i) control.push_back(f_train_small[i % f_train_small.size()]);
  const std::vector<std::pair<std::string, const FeatureRows*>> extras{
      {"real train split", nullptr},
      {"+ generated " + options.class_name, &f_generated},
      {"+ shrunk real " + options.class_name + " (blur control)", &control}};
  for (const auto& [name, extra] : extras) {
    AugmentationArm arm;
    arm.name = name;
    FeatureRows rows = f_all_train;
    std::vector<int> labels = train_labels;
    if (extra != nullptr)
      for (const auto& r : *extra) rows.push_back(r), labels.push_back(class_label);
    arm.train_images = static_cast<std::int64_t>(rows.size());
    for (const std::uint64_t seed : options.head_seeds) {
      say("linear head: " + name + ", seed " + std::to_string(seed));
      const std::vector<int> predicted = fit_and_predict_linear_head(rows, labels, classes, f_all_test, {.seed = seed});
      const ClassificationReport report =
          report_from_confusion(confusion_matrix(test_labels, predicted, classes), e.class_names);
      std::vector<double> f1;
      for (const ClassMetrics& c : report.classes) f1.push_back(c.f1);
      arm.f1.push_back(f1);
      arm.macro_f1.push_back(report.macro_f1);
    }
    e.arms.push_back(std::move(arm));
  }
  return e;
}

}  // namespace cxr
