// Model-randomisation sanity check for Grad-CAM and Grad-CAM++ (Adebayo et al. 2018,
// "Sanity checks for saliency maps"): a map that explains the model must change when
// the model's weights are replaced by random ones. A method that returns much the
// same map either way shows the input (edges, bright shapes), not what the model
// learned.
//
// A narrowed net learns the synthetic task (models/synthetic.h, bright shapes in
// noise); its maps of 24 held-out images are compared, by Spearman rank correlation
// over the pixels, with the maps of the same architecture with every weight
// re-initialised (the end of Adebayo's cascade), averaged over 8 initialisations:
// one random net may by chance light up the bright shape (random ReLU nets respond
// to bright blobs), so single draws ranged from rho 0.05 to 0.72.
//
// Bound: a mean rho below 1/sqrt(2) = 0.71, i.e. the random model's map shares less
// than half of the rank variance (rho^2) of the trained model's map. Measured:
// Grad-CAM 0.21, Grad-CAM++ 0.52. A control perturbs the trained weights by 1 %:
// the maps must stay nearly the same (rho > 0.95; measured 0.998), which shows the
// correlation measures the model and not noise.
//
// Re-initialising the classifier alone (the first step of the cascade) drops
// Grad-CAM to rho 0.15, and is tested. Grad-CAM++ keeps rho 0.91 there, and that is
// a property of its closed form, not a bug: at a layer that feeds global average
// pooling and a linear layer v, g_kij = v_k / hw for every pixel, so
// weight_k = v_k / (2 + mean(A_k) v_k), which tends to 1 / mean(A_k) as soon as
// mean(A_k) v_k >> 2: the classifier decides only which channels count (v_k > 0),
// not how much. docs/evaluation.md reports it.
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "models/gradcam.h"
#include "models/presets.h"
#include "models/synthetic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>

using namespace cxr;

namespace {

constexpr int kSize = 32;

NetConfig sanity_config() {
  NetConfig c = NetConfig::cxr_small().narrowed(0.25);
  c.blocks.resize(4);  // total stride 4: 8 x 8 maps at 32 x 32
  c.dropout = 0.0;
  c.input_size = kSize;
  return c;
}

// Mid-ranks (ties share their mean rank).
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    for (std::size_t t = i; t < j; ++t) r[order[t]] = (static_cast<double>(i + j) - 1) / 2;
    i = j;
  }
  return r;
}

// Spearman's rho: Pearson correlation of the mid-ranks; NaN when either is constant.
double spearman(const Tensor& a, const Tensor& b) {
  const std::vector<double> ra = ranks(a.to_vector()), rb = ranks(b.to_vector());
  const double n = static_cast<double>(ra.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::nan("");
}

TEST(Spearman, OfKnownRankings) {
  const auto t = [](std::vector<double> v) {
    return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())});
  };
  EXPECT_NEAR(spearman(t({1, 2, 3, 4}), t({10, 20, 30, 45})), 1.0, 1e-12);  // monotone: 1
  EXPECT_NEAR(spearman(t({1, 2, 3, 4}), t({4, 3, 2, 1})), -1.0, 1e-12);
  // Ranks (1.5, 1.5, 3, 4) vs (1, 2, 3, 4) with mid-ranks 0-based: rho = 0.9487 (= 3 / sqrt(10)).
  EXPECT_NEAR(spearman(t({5, 5, 6, 7}), t({1, 2, 3, 4})), 3 / std::sqrt(10.0), 1e-12);
  EXPECT_TRUE(std::isnan(spearman(t({1, 1, 1}), t({1, 2, 3}))));
}

class Sanity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    net_ = make_net(sanity_config(), 1);
    params_ = std::make_unique<ParameterSet>(*net_, 2);
    AdamW opt(*params_, AdamWOptions{3e-3, 0.9, 0.999, 1e-8, 1e-4});
    Generator data(3);
    net_->train();
    for (int step = 0; step < 300; ++step) {
      const LabelledBatch batch = make_synthetic_batch(32, kSize, data);
      params_->zero_grad();
      Tensor loss = cross_entropy(net_->forward(batch.images), batch.labels);
      loss.backward();
      opt.step();
    }
    net_->eval();
    Generator held_out(4);
    test_ = std::make_unique<LabelledBatch>(make_synthetic_batch(24, kSize, held_out));
  }
  static void TearDownTestSuite() {
    params_.reset();
    net_.reset();
    test_.reset();
  }

  static Tensor image(int i) { return test_->images.slice_rows(i, i + 1).contiguous(); }

  // The maps of every held-out image for its true class.
  static std::vector<Tensor> maps(ClassifierNet& net, CamMethod method) {
    std::vector<Tensor> out;
    for (int i = 0; i < static_cast<int>(test_->labels.size()); ++i)
      out.push_back(explain(net, image(i), method, test_->labels[i]).map);
    return out;
  }

  // Mean Spearman rho between two sets of maps over the images where it is defined.
  static double mean_rho(const std::vector<Tensor>& a, const std::vector<Tensor>& b, int* defined) {
    double sum = 0;
    *defined = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double rho = spearman(a[i], b[i]);
      if (std::isnan(rho)) continue;
      sum += rho;
      ++*defined;
    }
    return *defined > 0 ? sum / *defined : std::nan("");
  }

  // Runs `change` on a copy of the trained parameters and restores them afterwards.
  static std::vector<Tensor> maps_after(CamMethod method, const std::function<void()>& change) {
    const Tensor values = params_->values().clone(), buffers = params_->buffer_values().clone();
    change();
    std::vector<Tensor> out = maps(*net_, method);
    params_->values().copy_(values);
    params_->buffer_values().copy_(buffers);
    return out;
  }

  static std::unique_ptr<ClassifierNet> net_;
  static std::unique_ptr<ParameterSet> params_;
  static std::unique_ptr<LabelledBatch> test_;
};

std::unique_ptr<ClassifierNet> Sanity::net_;
std::unique_ptr<ParameterSet> Sanity::params_;
std::unique_ptr<LabelledBatch> Sanity::test_;

TEST_F(Sanity, TheNetLearnedTheTask) {
  NoGradGuard no_grad;
  const Tensor logits = net_->forward(test_->images);
  int correct = 0;
  for (int i = 0; i < logits.size(0); ++i) {
    int best = 0;
    for (int c = 1; c < 4; ++c)
      if (logits.at(i * 4 + c) > logits.at(i * 4 + best)) best = c;
    correct += best == test_->labels[i];
  }
  EXPECT_GE(correct, 22) << "of 24";  // the randomisation test needs a model that learned something
}

TEST_F(Sanity, RandomisingTheWeightsChangesTheMap) {
  const double bound = 1 / std::sqrt(2.0);
  for (CamMethod method : {CamMethod::GradCam, CamMethod::GradCamPlusPlus}) {
    SCOPED_TRACE(cam_method_name(method));
    const std::vector<Tensor> trained = maps(*net_, method);
    Generator gen(9);
    const auto perturbed = maps_after(method, [&] {
      Tensor& v = params_->values();
      for (std::int64_t i = 0; i < v.numel(); ++i) v.data<float>()[i] *= static_cast<float>(1 + 0.01 * gen.normal());
    });
    int defined = 0;
    const double control = mean_rho(trained, perturbed, &defined);
    EXPECT_GE(defined, 20) << "maps with a defined rank correlation, of 24";
    EXPECT_GT(control, 0.95);

    auto fresh = make_net(sanity_config(), 1);
    double random = 0;
    const int draws = 8;
    for (int draw = 0; draw < draws; ++draw) {
      ParameterSet init(*fresh, 100 + draw);
      random += mean_rho(trained, maps(*fresh, method), &defined) / draws;
    }
    EXPECT_LT(random, bound);

    const auto top_random = maps_after(method, [&] {
      for (const auto& p : params_->parameters())
        if (p.name.rfind("classifier.", 0) == 0) {
          Tensor t = p.tensor;
          for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(0.1 * gen.normal());
        }
    });
    const double top = mean_rho(trained, top_random, &defined);
    if (method == CamMethod::GradCam) {  // Grad-CAM++: see the header
      EXPECT_LT(top, bound);
    }
    std::printf(
        "%s: mean Spearman rho with the trained maps: 1%% perturbation %.3f, all weights random %.3f "
        "(mean of %d), random classifier %.3f\n",
        cam_method_name(method).c_str(), control, random, draws, top);
  }
}

}  // namespace
