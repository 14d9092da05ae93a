// Errors and precondition checks.
//
// Every user-facing failure is a cxr::Error whose message says what was expected
// and what was found, e.g. "conv2d: input has 3 channels, weight expects 1".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace cxr {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// CXR_CHECK(cond, "fmt string {}", args...) throws cxr::Error when cond is false.
#define CXR_CHECK(cond, ...)                          \
  do {                                                \
    if (!(cond)) [[unlikely]] {                       \
      throw ::cxr::Error(::fmt::format(__VA_ARGS__)); \
    }                                                 \
  } while (0)

}  // namespace cxr
