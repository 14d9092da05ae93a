// Each cxr subcommand registers itself on the app from its own file.
#pragma once

#include <CLI/CLI.hpp>

namespace cxr::cli {


}  // namespace cxr::cli
