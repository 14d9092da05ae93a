// binary_cross_entropy_with_logits and soft_dice_loss.
//
// Inputs: the prediction needs a gradient; the targets are constants in [0, 1], both
// soft (uniform) and hard (0 or 1, as masks are).
//
// Device tolerances: the losses are sums in double on both sides, in a different order
// (fixed CPU blocks vs the GPU's tree), of terms computed with CUDA's exp/log1p (1-2
// ulps from glibc's): relative differences of ~1e-15 in double before the value is
// rounded to T. So a float32 result is within 1 ulp plus that, and a float64 one within
// a few ulps: rtol = 16 ulps, atol = 16 ulps of 1 (gradients are O(1/n)), far below a
// formula error.
#include "cases.h"

namespace cxr::testing {
namespace {

double ulps_of_one(DType t, double count) {
  return count * (t == DType::F32 ? 0x1.0p-23 : 0x1.0p-52);
}

// Targets of shape s: uniform in [0, 1) when soft, else 0 or 1.
Tensor targets_of(Generator& gen, const Shape& s, DType dt, bool soft) {
  Tensor t = random_tensor(s, gen, DType::F64, 0, 1);
  if (!soft)
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = t.data<double>()[i] < 0.3 ? 1.0 : 0.0;
  return t.to(dt);
}

// A prediction (logits in [lo, hi), or probabilities in (0, 1) when lo = 0, hi = 1)
// and its targets.
std::function<Inputs(Generator&)> prediction_and_targets(const Shape& s, DType dt, bool soft, double lo, double hi) {
  return [=](Generator& gen) {
    Tensor prediction = grad_input(gen, s, dt, lo, hi);
    return Inputs{prediction, targets_of(gen, s, dt, soft)};
  };
}

const std::vector<Shape> kGradShapes = {{1, 1, 1, 1}, {2, 1, 4, 5}, {1, 3, 3, 3}, {2, 2, 1, 7}};
const std::vector<Shape> kDeviceShapes = {{1, 1, 1, 1}, {2, 1, 4, 5}, {3, 2, 33, 31}, {2, 1, 181, 181}};

std::string target_label(bool soft) {
  return soft ? "soft" : "hard";
}

OpSpec bce_spec() {
  OpSpec op("binary_cross_entropy_with_logits");
  auto run = [](const Inputs& in) {
    return binary_cross_entropy_with_logits(in[0], in[1]);
  };
  for (bool soft : {true, false})
    for (const Shape& s : kGradShapes)
      op.gradcheck.push_back(
          {shape_label(s) + "_" + target_label(soft), prediction_and_targets(s, DType::F64, soft, -4, 4), run});
  op.gradcheck.push_back({"tails_1x1x3x3", prediction_and_targets({1, 1, 3, 3}, DType::F64, false, -40, 40), run});
  op.torch_cases = {"binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return binary_cross_entropy_with_logits(c.in("x"), c.in("targets"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt), prediction_and_targets(s, dt, false, -8, 8), run},
                            ulps_of_one(dt, 16),
                            ulps_of_one(dt, 16)});
  op.bench = {{"mask_8x1x128x128", prediction_and_targets({8, 1, 128, 128}, DType::F32, false, -4, 4), run}};
  return op;
}

OpSpec soft_dice_spec() {
  OpSpec op("soft_dice_loss");
  auto run = [](const Inputs& in) {
    return soft_dice_loss(in[0], in[1], 1.0);
  };
  for (bool soft : {true, false})
    for (const Shape& s : kGradShapes)
      op.gradcheck.push_back(
          {shape_label(s) + "_" + target_label(soft), prediction_and_targets(s, DType::F64, soft, 0, 1), run});
  op.torch_cases = {"soft_dice_loss", "soft_dice_loss_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return soft_dice_loss(c.in("x"), c.in("targets"), c.meta_double("smooth"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt), prediction_and_targets(s, dt, false, 0, 1), run},
                            ulps_of_one(dt, 16),
                            ulps_of_one(dt, 16)});
  op.bench = {{"mask_8x3x128x128", prediction_and_targets({8, 3, 128, 128}, DType::F32, false, 0, 1), run}};
  return op;
}

}  // namespace

std::vector<OpSpec> segmentation_loss_ops() {
  return {bce_spec(), soft_dice_spec()};
}

}  // namespace cxr::testing
