// Checks that a call throws cxr::Error whose message mentions every given part
// (the op, the shapes, the offending value...).
#pragma once

#include "base/check.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace cxr::testing {

inline void expect_error_mentioning(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what() << " lacks " << part;
  }
}

}  // namespace cxr::testing
