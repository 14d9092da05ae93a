// softmax, log_softmax, cross_entropy, label_set_cross_entropy beyond the op registry's
// table (tests/ops/classification.cpp): hand-computed values and values printed by
// PyTorch 1.13, stability at large logits, label sets of one class against
// cross_entropy, and the error messages.
#include "expect_error.h"
#include "gradcheck.h"

#include <cmath>
#include <cstdint>
#include <string>

using namespace cxr;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

std::vector<int> random_labels(std::int64_t N, std::int64_t C, Generator& gen) {
  std::vector<int> labels(static_cast<std::size_t>(N));
  for (auto& y : labels) y = static_cast<int>(gen.below(static_cast<std::uint64_t>(C)));
  return labels;
}

TEST(Softmax, HandComputedValuesStableAtLargeLogits) {
  // softmax([0, ln 3]) = [1/4, 3/4] at any offset: the row maximum is subtracted first.
  for (double offset : {0.0, 1000.0, -1000.0}) {
    auto x = Tensor::from_vector(std::vector<double>{offset, offset + std::log(3.0)}, {1, 2}, DType::F32);
    const auto p = softmax(x).to_vector();
    // float32: the offset 1000 itself carries 2^-14 of absolute rounding into x.
    EXPECT_NEAR(p[0], 0.25, 1e-4);
    EXPECT_NEAR(p[1], 0.75, 1e-4);
    const auto lp = log_softmax(x).to_vector();
    EXPECT_NEAR(lp[0], std::log(0.25), 1e-4);
    EXPECT_NEAR(lp[1], std::log(0.75), 1e-4);
  }
  // exp(-1000) underflows to 0, but the log-probability stays finite and exact.
  auto x = Tensor::from_vector(std::vector<double>{-1000, 0}, {1, 2}, DType::F64);
  EXPECT_EQ(log_softmax(x).to_vector(), (std::vector<double>{-1000, 0}));
  EXPECT_EQ(softmax(x).to_vector(), (std::vector<double>{0, 1}));
}

TEST(Softmax, RowsSumToOne) {
  Generator gen(2);
  auto x = random_tensor({7, 33}, gen, DType::F32, -20.0, 20.0);
  const Tensor p = softmax(x);
  for (int r = 0; r < 7; ++r) {
    double sum = 0;
    for (int j = 0; j < 33; ++j) sum += p.at(r * 33 + j);
    EXPECT_NEAR(sum, 1.0, 33 * 6e-8);  // one float32 rounding per term
  }
}

TEST(CrossEntropy, MatchesValuesPrintedByPyTorch) {
  // F.cross_entropy(logits, labels, weight=w) and its gradient in float64 (torch 1.13).
  auto logits =
      Tensor::from_vector(std::vector<double>{1, 2, 0.5, 0, -1, 3, 2, 2, 2, -0.5, 0.25, 1.5}, {4, 3}, DType::F64)
          .set_requires_grad();
  const std::vector<int> labels = {0, 2, 1, 2};
  auto w = Tensor::from_vector(std::vector<double>{0.5, 2.0, 1.5}, {3}, DType::F64);
  const std::vector<double> want_grad = {-0.06988873657980464, 0.05713924720106931,  0.012749489378735317,
                                         0.012712533430356514, 0.004676679694232833, -0.017389213124589336,
                                         0.12121212121212122,  -0.24242424242424243, 0.12121212121212122,
                                         0.025959053495229555, 0.05495531668065027,  -0.0809143701758798};
  // float64 in another order of operations: a few ulps.
  const double atol = 1e-15, rtol = 1e-14;
  Tensor loss = cross_entropy(logits, labels, w);
  EXPECT_NEAR(loss.item(), 0.646575021951007, atol + rtol * 0.65);
  loss.backward();
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(logits.grad().at(i), want_grad[i], atol + rtol * std::abs(want_grad[i])) << i;
  EXPECT_NEAR(cross_entropy(logits.detach(), labels).item(), 0.7452042100840713, atol + rtol * 0.75);
}

TEST(CrossEntropy, IsTheWeightedMeanOfNegativeLogSoftmax) {
  Generator gen(4);
  auto logits = random_tensor({9, 5}, gen, DType::F64, -4.0, 4.0);
  const std::vector<int> labels = random_labels(9, 5, gen);
  auto w = random_tensor({5}, gen, DType::F64, 0.1, 2.0);
  const Tensor lp = log_softmax(logits);
  double plain = 0, weighted = 0, total_weight = 0;
  for (int i = 0; i < 9; ++i) {
    const double nll = -lp.at(i * 5 + labels[i]);
    plain += nll / 9;
    weighted += w.at(labels[i]) * nll;
    total_weight += w.at(labels[i]);
  }
  // float64 sums of 9 terms of O(1): a few ulps.
  EXPECT_NEAR(cross_entropy(logits, labels).item(), plain, 1e-14);
  EXPECT_NEAR(cross_entropy(logits, labels, w).item(), weighted / total_weight, 1e-14);
  // Weights that are all equal change nothing.
  EXPECT_NEAR(cross_entropy(logits, labels, Tensor::full({5}, 3.0, DType::F64)).item(), plain, 1e-14);
}

TEST(CrossEntropy, HandComputedValue) {
  // Rows [0, ln 3]: p = [1/4, 3/4]. Labels 1 and 0: nll = ln(4/3) and ln 4.
  auto logits = Tensor::from_vector(std::vector<double>{0, std::log(3.0), 0, std::log(3.0)}, {2, 2}, DType::F32);
  const double want = (std::log(4.0 / 3.0) + std::log(4.0)) / 2;
  EXPECT_NEAR(cross_entropy(logits, {1, 0}).item(), want, 2e-7);  // float32 log-softmax
}

TEST(CrossEntropy, RejectsBadLabelsAndWeightsWithClearErrors) {
  auto logits = Tensor::zeros({3, 4});
  expect_error_mentioning([&] { cross_entropy(logits, {0, 4, 1}); }, {"cross_entropy", "label 4", "4 classes"});
  expect_error_mentioning([&] { cross_entropy(logits, {0, 1, -1}); }, {"label -1", "4 classes"});
  expect_error_mentioning([&] { cross_entropy(logits, {0, 1}); }, {"2 labels", "[3, 4]"});
  expect_error_mentioning(
      [&] {
        cross_entropy(logits, {0, 1, 2}, Tensor::ones({3}));
      },
      {"class_weights", "[3]", "[4]"});
  expect_error_mentioning(
      [&] {
        cross_entropy(logits, {0, 1, 2}, Tensor::ones({4}).set_requires_grad());
      },
      {"class_weights", "must not require grad"});
  expect_error_mentioning([&] { softmax(Tensor::zeros({2, 3, 4})); }, {"softmax", "2 dimensions"});
  expect_error_mentioning([&] { log_softmax(Tensor::zeros({0, 3})); }, {"log_softmax", "empty"});
}

// ---- label_set_cross_entropy ----------------------------------------------------------

TEST(LabelSetCrossEntropy, SingleClassSetsAreCrossEntropyBitForBit) {
  // With one class in S_i, log P_i = max + log(exp(0)) = logp[i, y_i] and the restricted
  // softmax is exp(0) = 1: the same operations as cross_entropy, in the same order, so the
  // value and the gradient are equal bit for bit (dloss = 2.5 exercises the scaling).
  Generator gen(6);
  for (DType dt : {DType::F32, DType::F64})
    for (const Shape& s : {Shape{7, 5}, Shape{1, 1}, Shape{129, 3}, Shape{3, 32}}) {
      SCOPED_TRACE(shape_str(s));
      const std::vector<int> labels = random_labels(s[0], s[1], gen);
      std::vector<std::uint32_t> masks;
      for (int y : labels) masks.push_back(1u << y);
      const Tensor logits = random_tensor(s, gen, dt, -4.0, 4.0);
      const Tensor w = random_tensor({s[1]}, gen, dt, 0.2, 3.0);
      for (const Tensor& weights : {Tensor(), w}) {
        Tensor a = logits.clone().set_requires_grad(), b = logits.clone().set_requires_grad();
        const Tensor set_loss = label_set_cross_entropy(a, masks, weights);
        const Tensor loss = cross_entropy(b, labels, weights);
        EXPECT_EQ(set_loss.item(), loss.item());
        mul_scalar(set_loss, 2.5).backward();
        mul_scalar(loss, 2.5).backward();
        EXPECT_EQ(a.grad().to_vector(), b.grad().to_vector());
      }
    }
}

TEST(LabelSetCrossEntropy, HandComputedValues) {
  // Rows [0, ln 2, ln 3]: p = [1/6, 2/6, 3/6]. Sets {1, 2} and {0}: P = 5/6 and 1/6.
  // Weights [1, 2, 4]: w_0 = (2 + 4) / 2 = 3 (the set's mean), w_1 = 1.
  const std::vector<double> row = {0, std::log(2.0), std::log(3.0)};
  std::vector<double> rows = row;
  rows.insert(rows.end(), row.begin(), row.end());
  const Tensor logits = Tensor::from_vector(rows, {2, 3}, DType::F64);
  const std::vector<std::uint32_t> masks = {0b110, 0b001};
  const Tensor w = Tensor::from_vector(std::vector<double>{1, 2, 4}, {3}, DType::F64);
  // float64, a few operations on O(1) values: a few ulps.
  EXPECT_NEAR(label_set_cross_entropy(logits, masks).item(), (std::log(6.0 / 5) + std::log(6.0)) / 2, 1e-15);
  EXPECT_NEAR(label_set_cross_entropy(logits, masks, w).item(), (3 * std::log(6.0 / 5) + std::log(6.0)) / 4, 1e-15);
  // Every class admissible: P = 1, so the loss and its gradient p - q = p - p vanish
  // up to the rounding of sum(p) = 1 (a few ulps).
  Tensor x = logits.clone().set_requires_grad();
  Tensor loss = label_set_cross_entropy(x, {0b111, 0b111}, w);
  EXPECT_NEAR(loss.item(), 0.0, 1e-15);
  loss.backward();
  for (double g : x.grad().to_vector()) EXPECT_NEAR(g, 0.0, 1e-15);
}

TEST(LabelSetCrossEntropy, StableWhenTheSetHasAVanishingProbability) {
  // Row [60, -60, -61], set {1, 2}: p_1 = e^-120 and p_2 = e^-121 underflow in float32, so
  // p / P would be 0/0. Through log-probabilities: loss = 120 - log(1 + e^-1) (+ e^-120),
  // gradient p - q = [1, -1/(1 + e^-1), -e^-1/(1 + e^-1)] (+ e^-120).
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = Tensor::from_vector(std::vector<double>{60, -60, -61}, {1, 3}, dt).set_requires_grad();
    Tensor loss = label_set_cross_entropy(x, {0b110});
    const double e = std::exp(-1.0);
    // logp = [0, -120, -121] is exact; log P = -120 + log(1 + e^-1) rounds once at the
    // size of 120: half an ulp is 3.8e-6 in float32, 7e-15 in float64. That error moves
    // the loss by as much and q = exp(logp - log P) <= 1 by as much relative.
    const double tol = dt == DType::F32 ? 1e-5 : 1e-13;
    EXPECT_NEAR(loss.item(), 120 - std::log1p(e), tol);
    loss.backward();
    const std::vector<double> want = {1, -1 / (1 + e), -e / (1 + e)};
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(x.grad().at(j), want[j], tol) << j;
  }
}

TEST(LabelSetCrossEntropy, RejectsBadMasksAndWeightsWithClearErrors) {
  auto logits = Tensor::zeros({3, 5});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(logits, {1, 0, 2});
      },
      {"label_set_cross_entropy", "sample 1", "empty"});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(logits, {1, 2, 0b100001});
      },
      {"label_set_cross_entropy", "0x21", "sample 2", "5 classes"});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(logits, {1, 2});
      },
      {"label_set_cross_entropy", "2 masks", "[3, 5]"});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(logits, {1, 2, 3}, Tensor::ones({4}));
      },
      {"label_set_cross_entropy", "class_weights", "[4]", "[5]"});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(logits, {1, 2, 3}, Tensor::ones({5}).set_requires_grad());
      },
      {"label_set_cross_entropy", "class_weights", "must not require grad"});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(Tensor::zeros({2, 33}), {1, 1});
      },
      {"label_set_cross_entropy", "[2, 33]", "33 classes", "at most 32"});
  expect_error_mentioning(
      [&] {
        label_set_cross_entropy(Tensor::zeros({2, 3, 4}), {1, 1});
      },
      {"label_set_cross_entropy", "2 dimensions"});
}

}  // namespace
