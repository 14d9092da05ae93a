// Element types. float32 is the training type; float64 exists on the CPU so that
// gradients can be checked against finite differences without rounding noise.
#pragma once

#include "base/check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cxr {

enum class DType : std::uint8_t { F32, F64 };

constexpr std::size_t dtype_size(DType t) {
  return t == DType::F32 ? 4 : 8;
}
constexpr std::string_view dtype_name(DType t) {
  return t == DType::F32 ? "float32" : "float64";
}

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}

// Calls fn.template operator()<T>() with T = float or double, e.g.
//   dispatch_float(x.dtype(), "relu", [&]<class T>() { relu_forward<T>(...); });
template <class Fn>
decltype(auto) dispatch_float(DType t, std::string_view op, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn.template operator()<float>();
    case DType::F64: return fn.template operator()<double>();
  }
  throw Error(fmt::format("{}: unsupported dtype", op));
}

}  // namespace cxr
