// The coverage table of the op registry, as docs/op-coverage.md holds it.
#pragma once

#include "registry.h"

#include <string>
#include <vector>

namespace cxr::testing {

std::string coverage_markdown(const std::vector<OpSpec>& ops);

}  // namespace cxr::testing
