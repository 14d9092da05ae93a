#include "models/feature_head.h"

#include "base/check.h"
#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "engine/random.h"

#include <algorithm>
#include <numeric>

namespace cxr {

namespace {

Tensor rows_tensor(const FeatureRows& rows, const std::vector<std::size_t>& pick) {
  const auto d = static_cast<std::int64_t>(rows[0].size());
  Tensor t = Tensor::empty({static_cast<std::int64_t>(pick.size()), d});
  float* p = t.data<float>();
  for (const std::size_t i : pick)
    for (const double v : rows[i]) *p++ = static_cast<float>(v);
  return t;
}

}  // namespace

std::vector<int> fit_and_predict_linear_head(const FeatureRows& train, const std::vector<int>& labels, int classes,
                                             const FeatureRows& test, const LinearHeadOptions& options) {
  CXR_CHECK(!train.empty() && train.size() == labels.size() && !test.empty() && classes >= 2,
            "linear head: {} training rows, {} labels, {} test rows, {} classes", train.size(), labels.size(),
            test.size(), classes);
  const int d = static_cast<int>(train[0].size());
  for (const FeatureRows* set : {&train, &test})
    for (const auto& r : *set)
      CXR_CHECK(static_cast<int>(r.size()) == d, "linear head: rows of {} and {} features", d, r.size());
  for (const int y : labels) CXR_CHECK(y >= 0 && y < classes, "linear head: label {} outside 0..{}", y, classes - 1);
  Linear head(d, classes);
  ParameterSet params(head, options.seed);
  AdamW optimizer(params, {.lr = options.lr, .weight_decay = options.weight_decay});
  Generator gen(options.seed);
  std::vector<std::size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    shuffle(order, gen);
    for (std::size_t first = 0; first < order.size(); first += options.batch_size) {
      const std::vector<std::size_t> pick(order.begin() + first,
                                          order.begin() + std::min(order.size(), first + options.batch_size));
      std::vector<int> y;
      for (const std::size_t i : pick) y.push_back(labels[i]);
      params.zero_grad();
      const Tensor loss = cross_entropy(head.forward(rows_tensor(train, pick)), y);
      loss.backward();
      optimizer.step();
    }
  }
  NoGradGuard no_grad;
  std::vector<std::size_t> all(test.size());
  std::iota(all.begin(), all.end(), 0);
  const Tensor logits = head.forward(rows_tensor(test, all));
  const float* p = logits.data<float>();
  std::vector<int> predicted(test.size());
  for (std::size_t i = 0; i < test.size(); ++i)
    predicted[i] = static_cast<int>(std::max_element(p + i * classes, p + (i + 1) * classes) - (p + i * classes));
  return predicted;
}

}  // namespace cxr
