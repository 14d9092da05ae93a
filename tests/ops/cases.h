// Small builders the family files declare their calls with.
#pragma once

#include "registry.h"

#include "../random_tensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cxr::testing {

inline const std::vector<DType> kBothDtypes = {DType::F32, DType::F64};

inline std::string dtype_label(DType t) {
  return t == DType::F32 ? "f32" : "f64";
}

// "2x3x5x5"; "scalar" for a 0-d shape.
inline std::string shape_label(const Shape& s) {
  std::string out;
  for (std::int64_t d : s) {
    if (!out.empty()) out += 'x';
    out += std::to_string(d);
  }
  return out.empty() ? "scalar" : out;
}

// An input uniform in [lo, hi) that needs a gradient.
inline Tensor grad_input(Generator& gen, const Shape& s, DType dt = DType::F64, double lo = -1, double hi = 1) {
  return random_tensor(s, gen, dt, lo, hi).set_requires_grad();
}

// Small integers in [lo, hi] that need a gradient: sums and products of them stay exact.
inline Tensor int_grad_input(Generator& gen, const Shape& s, DType dt, int lo = -8, int hi = 8) {
  return random_int_tensor(s, gen, lo, hi, dt).set_requires_grad();
}

// The call of a one-input op on a uniform input of shape s.
inline OpCall unary_call(const std::string& label, const Shape& s, DType dt, OpFn run, double lo = -1, double hi = 1) {
  return {label, [=](Generator& gen) { return Inputs{grad_input(gen, s, dt, lo, hi)}; }, std::move(run)};
}

// Inputs hold defined tensors only; an optional one (a bias) is absent at the end.
inline Tensor optional_input(const Inputs& in, std::size_t i) {
  return i < in.size() ? in[i] : Tensor();
}

// The benchmark's activation: the reference net's block output at batch 32.
inline const Shape kBenchActivation = {32, 128, 28, 28};

}  // namespace cxr::testing
