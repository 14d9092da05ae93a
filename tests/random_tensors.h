// Seeded random inputs for the tests and the op registry (no GoogleTest here, so the
// benchmarks that share the registry's input builders can use them too).
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

#include <cstdint>
#include <vector>

namespace cxr::testing {

inline Tensor random_tensor(const Shape& shape, Generator& gen, DType dtype = DType::F64, double lo = -1.0,
                            double hi = 1.0) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = gen.uniform(lo, hi);
  return Tensor::from_vector(v, shape, dtype);
}

// Small integers in [lo, hi]: sums of products are exact in float32 (CUTLASS-style checks).
inline Tensor random_int_tensor(const Shape& shape, Generator& gen, int lo, int hi, DType dtype = DType::F32) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = lo + static_cast<int>(gen.below(static_cast<std::uint64_t>(hi - lo + 1)));
  return Tensor::from_vector(v, shape, dtype);
}

// Label-set masks for [N, C] logits (C <= 32): sample i admits one class, two classes
// (one where both draws agree) or all C, in turn.
inline std::vector<std::uint32_t> random_label_sets(std::int64_t N, std::int64_t C, Generator& gen) {
  std::vector<std::uint32_t> masks(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) {
    const auto c = static_cast<int>(gen.below(static_cast<std::uint64_t>(C)));
    const auto d = static_cast<int>(gen.below(static_cast<std::uint64_t>(C)));
    const std::uint32_t all = C == 32 ? ~0u : (1u << C) - 1;
    masks[static_cast<std::size_t>(i)] = i % 3 == 0 ? 1u << c : i % 3 == 1 ? (1u << c) | (1u << d) : all;
  }
  return masks;
}

}  // namespace cxr::testing
