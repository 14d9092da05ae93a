// soft_target_cross_entropy over rows of [N, C] against a teacher's probabilities.
//
// Inputs: the logits need a gradient; the targets are constants: rows that are
// distributions (as a teacher's are), peaked ones (near one-hot, the hard-label limit)
// and one case of unnormalised non-negative rows (the gradient's sum_k q_ik factor).
//
// Device tolerances, as cross_entropy's (tests/ops/classification.cpp): the GPU's exp
// is a few ulps from glibc's and the loss sum runs in another order: float32 within
// 1e-6 + 1e-5 relative, float64 within 1e-13 + 1e-12 relative.
#include "cases.h"

#include <cmath>

namespace cxr::testing {
namespace {

const std::vector<Shape> kGradShapes = {{1, 1}, {2, 1}, {3, 4}, {5, 13}, {1, 7}};
// More rows than a reduction block has threads (256) and a row longer than a warp.
const std::vector<Shape> kDeviceShapes = {{1, 1}, {1, 3}, {5, 3}, {7, 2}, {4, 33}, {129, 5}, {300, 4}};

double atol_of(DType t) {
  return t == DType::F32 ? 1e-6 : 1e-13;
}
double rtol_of(DType t) {
  return t == DType::F32 ? 1e-5 : 1e-12;
}

enum class Rows { distributions, peaked, unnormalised };

std::string rows_label(Rows r) {
  return r == Rows::distributions ? "" : r == Rows::peaked ? "_peaked" : "_unnormalised";
}

// Targets [N, C] >= 0: uniform draws, raised to a power to peak them, then normalised
// per row unless asked not to.
Tensor soft_targets(Generator& gen, const Shape& s, DType dt, Rows rows) {
  Tensor t = random_tensor(s, gen, DType::F64, 0.01, 1);
  double* q = t.data<double>();
  for (std::int64_t i = 0; i < s[0]; ++i) {
    double sum = 0;
    for (std::int64_t j = 0; j < s[1]; ++j) {
      if (rows == Rows::peaked) q[i * s[1] + j] = std::pow(q[i * s[1] + j], 8);
      sum += q[i * s[1] + j];
    }
    if (rows != Rows::unnormalised)
      for (std::int64_t j = 0; j < s[1]; ++j) q[i * s[1] + j] /= sum;
  }
  return t.to(dt);
}

std::function<Inputs(Generator&)> logits_and_targets(const Shape& s, DType dt, Rows rows) {
  return [=](Generator& gen) {
    Tensor logits = grad_input(gen, s, dt, -3, 3);
    return Inputs{logits, soft_targets(gen, s, dt, rows)};
  };
}

Tensor run(const Inputs& in) {
  return soft_target_cross_entropy(in[0], in[1]);
}

OpSpec soft_target_cross_entropy_spec() {
  OpSpec op("soft_target_cross_entropy");
  for (Rows rows : {Rows::distributions, Rows::peaked, Rows::unnormalised})
    for (const Shape& s : kGradShapes)
      op.gradcheck.push_back({shape_label(s) + rows_label(rows), logits_and_targets(s, DType::F64, rows), run});
  op.torch_cases = {"soft_target_cross_entropy", "soft_target_cross_entropy_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return soft_target_cross_entropy(c.in("x"), c.in("targets"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back(
          {{shape_label(s) + "_" + dtype_label(dt), logits_and_targets(s, dt, Rows::distributions), run},
           atol_of(dt),
           rtol_of(dt)});
  // dloss = 2.5 through mul_scalar, on both devices, with unnormalised targets.
  op.devices.push_back({{"dloss_2.5_3x4_f64_unnormalised", logits_and_targets({3, 4}, DType::F64, Rows::unnormalised),
                         [](const Inputs& in) {
                           return mul_scalar(soft_target_cross_entropy(in[0], in[1]), 2.5);
                         }},
                        1e-13,
                        1e-12});
  op.bench = {{"1024x4", logits_and_targets({1024, 4}, DType::F32, Rows::distributions), run}};
  return op;
}

}  // namespace

std::vector<OpSpec> soft_target_loss_ops() {
  return {soft_target_cross_entropy_spec()};
}

}  // namespace cxr::testing
