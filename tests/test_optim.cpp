// Optimizers, schedules and clipping against the formulas of torch.optim,
// computed here step by step in double.
#include "engine/nn/module.h"
#include "engine/optim/adamw.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/sgd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

using namespace cxr;

namespace {

// Two parameters (a 2x3 weight and a 3-vector) in one flat buffer.
class TwoParams : public Module {
 public:
  TwoParams() {
    declare_parameter("w", &w, {2, 3}, Init::constant(0.5));
    declare_parameter("b", &b, {3}, Init::constant(-1.0));
  }
  Tensor w, b;
};

void set_grads(ParameterSet& ps, double base) {
  for (const auto& e : ps.parameters()) {
    Tensor g = e.tensor.grad();
    for (std::int64_t i = 0; i < g.numel(); ++i) g.data<double>()[i] = base * (i + 1) - 0.3;
  }
}

TEST(ParameterSet, OneContiguousBufferWithGradViews) {
  TwoParams m;
  ParameterSet ps(m, 1, DType::F64);
  ASSERT_EQ(ps.parameters().size(), 2u);
  EXPECT_TRUE(m.w.storage() == ps.values().storage());
  EXPECT_TRUE(m.b.storage() == ps.values().storage());
  EXPECT_TRUE(m.w.grad().storage() == ps.grads().storage());
  EXPECT_EQ(ps.parameters()[1].offset % 16, 0);  // aligned starts
  EXPECT_EQ(m.b.at(2), -1.0);
}

TEST(AdamW, MatchesTheTorchFormulaOverSeveralSteps) {
  TwoParams m;
  ParameterSet ps(m, 1, DType::F64);
  AdamWOptions o{0.01, 0.9, 0.99, 1e-8, 0.1};
  AdamW opt(ps, o);
  const double p0 = 0.5;
  double p = p0, mom = 0, v = 0;
  for (int t = 1; t <= 5; ++t) {
    set_grads(ps, 0.1 * t);
    const double g = 0.1 * t * 1 - 0.3;  // element 0 of w
    opt.step();
    p *= 1 - o.lr * o.weight_decay;
    mom = o.beta1 * mom + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g * g;
    const double bc1 = 1 - std::pow(o.beta1, t), bc2 = 1 - std::pow(o.beta2, t);
    p -= o.lr / bc1 * mom / (std::sqrt(v) / std::sqrt(bc2) + o.eps);
    // Same formula, same order of operations in double: only the last bits may differ.
    EXPECT_NEAR(m.w.at(0), p, 1e-15) << "step " << t;
  }
}

TEST(SGD, MomentumAndNesterovMatchTorchFormula) {
  for (bool nesterov : {false, true}) {
    TwoParams m;
    ParameterSet ps(m, 1, DType::F64);
    SGDOptions o{0.1, 0.9, 0.0, 0.01, nesterov};
    SGD opt(ps, o);
    double p = 0.5, buf = 0;
    for (int t = 1; t <= 4; ++t) {
      set_grads(ps, 0.2 * t);
      double g = 0.2 * t - 0.3 + o.weight_decay * p;
      buf = t == 1 ? g : o.momentum * buf + g;
      g = nesterov ? g + o.momentum * buf : buf;
      p -= o.lr * g;
      opt.step();
      EXPECT_NEAR(m.w.at(0), p, 1e-15) << "nesterov " << nesterov << " step " << t;
    }
  }
}

TEST(SGD, RejectsNesterovWithoutMomentum) {
  TwoParams m;
  ParameterSet ps(m, 1, DType::F64);
  EXPECT_THROW(SGD(ps, SGDOptions{0.1, 0.0, 0.0, 0.0, true}), Error);
}

TEST(Schedules, CosineWithWarmup) {
  CosineWarmupSchedule s{1.0, 10, 110, 0.0};
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1.0);
  EXPECT_NEAR(s.lr_at(60), 0.5, 1e-12);
  EXPECT_NEAR(s.lr_at(110), 0.0, 1e-12);
  EXPECT_NEAR(s.lr_at(500), 0.0, 1e-12);
  EXPECT_THROW((CosineWarmupSchedule{1.0, 10, 10}.lr_at(0)), Error);
}

TEST(Schedules, Step) {
  StepSchedule s{0.1, 30, 0.1};
  EXPECT_DOUBLE_EQ(s.lr_at(29), 0.1);
  EXPECT_NEAR(s.lr_at(30), 0.01, 1e-15);
  EXPECT_NEAR(s.lr_at(95), 1e-4, 1e-17);
}

TEST(ClipGradNorm, ScalesOnlyWhenAboveTheLimit) {
  TwoParams m;
  ParameterSet ps(m, 1, DType::F64);
  ps.zero_grad();
  m.w.grad().data<double>()[0] = 3;
  m.b.grad().data<double>()[2] = 4;  // global norm 5
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 10.0), 5.0);
  EXPECT_EQ(m.w.grad().at(0), 3);  // untouched
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 1.0), 5.0);
  EXPECT_NEAR(m.w.grad().at(0), 3.0 / (5 + 1e-6), 1e-15);
  EXPECT_NEAR(m.b.grad().at(2), 4.0 / (5 + 1e-6), 1e-15);
}

}  // namespace
