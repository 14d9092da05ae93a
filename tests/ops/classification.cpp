// softmax, log_softmax, cross_entropy, label_set_cross_entropy over rows of [N, C].
//
// Labels and label-set masks travel as float64 tensors among the inputs (as in the
// PyTorch reference files), so that every mode builds them from the same generator.
//
// Device tolerances: the GPU's exp/log are a few ulps from glibc's and the sums run
// in another order: float32 within 1e-6 + 1e-5 relative, float64 within 1e-13 +
// 1e-12 relative.
#include "cases.h"

namespace cxr::testing {
namespace {

const std::vector<Shape> kGradShapes = {{1, 1}, {2, 1}, {3, 4}, {5, 13}, {1, 7}};
const std::vector<Shape> kRowShapes = {{1, 1}, {1, 3}, {5, 3}, {7, 2}, {4, 33}, {3, 100}, {129, 5}};
// Masks hold C <= 32 classes: odd sizes, batch 1, C = 32, and more rows (300) than the
// loss kernel's block has threads (256).
const std::vector<Shape> kSetGradShapes = {{7, 5}, {1, 5}, {1, 1}, {5, 13}, {4, 32}};
const std::vector<Shape> kSetShapes = {{1, 1}, {1, 3}, {5, 3}, {7, 5}, {4, 32}, {129, 5}, {300, 7}};
const Shape kBenchLogits = {1024, 100};

double softmax_atol(DType t) {
  return t == DType::F32 ? 1e-6 : 1e-13;
}
double softmax_rtol(DType t) {
  return t == DType::F32 ? 1e-5 : 1e-12;
}

std::vector<int> labels_of(const Tensor& t) {
  std::vector<int> labels;
  for (double v : t.to_vector()) labels.push_back(static_cast<int>(v));
  return labels;
}
std::vector<std::uint32_t> masks_of(const Tensor& t) {
  std::vector<std::uint32_t> masks;
  for (double v : t.to_vector()) masks.push_back(static_cast<std::uint32_t>(v));
  return masks;
}

Tensor random_labels(std::int64_t N, std::int64_t C, Generator& gen) {
  std::vector<double> labels(static_cast<std::size_t>(N));
  for (auto& y : labels) y = static_cast<double>(gen.below(static_cast<std::uint64_t>(C)));
  return Tensor::from_vector(labels, {N}, DType::F64);
}
Tensor random_masks(std::int64_t N, std::int64_t C, Generator& gen) {
  std::vector<double> masks;
  for (std::uint32_t m : random_label_sets(N, C, gen)) masks.push_back(m);
  return Tensor::from_vector(masks, {N}, DType::F64);
}

// Inputs {logits in [-3, 3), targets[, class weights in [0.2, 3)]}.
using Targets = Tensor (*)(std::int64_t, std::int64_t, Generator&);
std::function<Inputs(Generator&)> loss_inputs(const Shape& s, DType dt, Targets targets, bool weighted) {
  return [=](Generator& gen) {
    Inputs in{grad_input(gen, s, dt, -3, 3), targets(s[0], s[1], gen)};
    if (weighted) in.push_back(random_tensor({s[1]}, gen, dt, 0.2, 3.0));
    return in;
  };
}
Tensor weights_of(const Inputs& in) {
  return optional_input(in, 2);
}

Tensor run_cross_entropy(const Inputs& in) {
  return cross_entropy(in[0], labels_of(in[1]), weights_of(in));
}
Tensor run_label_set(const Inputs& in) {
  return label_set_cross_entropy(in[0], masks_of(in[1]), weights_of(in));
}

OpSpec softmax_spec(const std::string& name, Tensor (*f)(const Tensor&)) {
  OpSpec op(name);
  auto run = [f](const Inputs& in) {
    return f(in[0]);
  };
  for (const Shape& s : kGradShapes) op.gradcheck.push_back(unary_call(shape_label(s), s, DType::F64, run, -3, 3));
  op.torch_cases = {name};
  op.torch_call = [f](ReferenceCase& c) {
    return f(c.in("x"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kRowShapes)
      op.devices.push_back(
          {unary_call(shape_label(s) + "_" + dtype_label(dt), s, dt, run, -4, 4), softmax_atol(dt), softmax_rtol(dt)});
  if (name == "log_softmax")  // Large logits: the max is subtracted first, nothing overflows.
    op.devices.push_back({unary_call("large_logits_3x4_f32", {3, 4}, DType::F32, run, 500, 900), 1e-4, 1e-5});
  op.bench = {unary_call(shape_label(kBenchLogits), kBenchLogits, DType::F32, run, -3, 3)};
  return op;
}

OpSpec cross_entropy_spec() {
  OpSpec op("cross_entropy");
  for (const Shape& s : kGradShapes)
    for (bool weighted : {false, true})
      op.gradcheck.push_back({shape_label(s) + (weighted ? "_weighted" : ""),
                              loss_inputs(s, DType::F64, random_labels, weighted), run_cross_entropy});
  op.torch_cases = {"cross_entropy", "cross_entropy_weighted"};
  op.torch_call = [](ReferenceCase& c) {
    return cross_entropy(c.in("x"), c.labels("labels"), c.optional("class_weights"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kRowShapes)
      for (bool weighted : {false, true})
        op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt) + (weighted ? "_weighted" : ""),
                               loss_inputs(s, dt, random_labels, weighted), run_cross_entropy},
                              softmax_atol(dt),
                              softmax_rtol(dt)});
  // loss * 2.5 exercises a dloss other than 1 on both devices.
  op.devices.push_back({unary_call("dloss_2.5_3x3_f64", {3, 3}, DType::F64,
                                   [](const Inputs& in) {
                                     return mul_scalar(cross_entropy(in[0], {2, 0, 1}), 2.5);
                                   }),
                        1e-13, 1e-12});
  op.bench = {
      {shape_label(kBenchLogits), loss_inputs(kBenchLogits, DType::F32, random_labels, false), run_cross_entropy}};
  return op;
}

OpSpec label_set_cross_entropy_spec() {
  OpSpec op("label_set_cross_entropy");
  for (const Shape& s : kSetGradShapes)
    for (bool weighted : {false, true})
      op.gradcheck.push_back({shape_label(s) + (weighted ? "_weighted" : ""),
                              loss_inputs(s, DType::F64, random_masks, weighted), run_label_set});
  // Batch 1 with each kind of set on its own.
  for (std::uint32_t mask : {0b00100u, 0b10010u, 0b11111u})
    op.gradcheck.push_back({"1x5_weighted_mask_" + std::to_string(mask),
                            [mask](Generator& gen) {
                              return Inputs{grad_input(gen, {1, 5}, DType::F64, -3, 3),
                                            Tensor::from_vector(std::vector<double>{double(mask)}, {1}, DType::F64),
                                            random_tensor({5}, gen, DType::F64, 0.2, 3.0)};
                            },
                            run_label_set});
  op.torch_cases = {"label_set_cross_entropy", "label_set_cross_entropy_weighted", "label_set_cross_entropy_f64",
                    "label_set_cross_entropy_weighted_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return label_set_cross_entropy(c.in("x"), c.masks("masks"), c.optional("class_weights"));
  };
  // Cross-entropy's bounds: the same exp/log and row order as the CPU, other sums' order.
  for (DType dt : kBothDtypes)
    for (const Shape& s : kSetShapes)
      for (bool weighted : {false, true})
        op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt) + (weighted ? "_weighted" : ""),
                               loss_inputs(s, dt, random_masks, weighted), run_label_set},
                              softmax_atol(dt),
                              softmax_rtol(dt)});
  // dloss = 2.5 through mul_scalar, on both devices.
  op.devices.push_back({unary_call("dloss_2.5_3x3_f64", {3, 3}, DType::F64,
                                   [](const Inputs& in) {
                                     return mul_scalar(label_set_cross_entropy(in[0], {0b100, 0b011, 0b111}), 2.5);
                                   }),
                        1e-13, 1e-12});
  const Shape bench_logits = {kBenchLogits[0], 32};  // masks hold at most 32 classes
  op.bench = {{shape_label(bench_logits), loss_inputs(bench_logits, DType::F32, random_masks, false), run_label_set}};
  return op;
}

}  // namespace

std::vector<OpSpec> classification_ops() {
  return {softmax_spec("softmax", &softmax), softmax_spec("log_softmax", &log_softmax), cross_entropy_spec(),
          label_set_cross_entropy_spec()};
}

}  // namespace cxr::testing
