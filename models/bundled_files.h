// Where cxr finds the files it ships with: the browser UI, the OpenAPI document and
// the bundled model. They are found from the running program's own path
// (/proc/self/exe), never from a path compiled in, so a build or an installation
// can be moved as a whole:
//
//   installed   <prefix>/bin/cxr        <prefix>/share/cxr/{web/, openapi.yaml, models/cxr-small.*}
//               (`cmake --install`, app/CMakeLists.txt)
//   build tree  <build>/<folder>/<prog>  the source tree named in <build>/cxr-source-dir
//               (absolute, or relative to <build>; scripts/gpu-bundle writes ".."):
//               {web/, docs/openapi.yaml, models/pretrained/cxr-small.*}
//
// The installed layout is looked for first, so an installation never reads a
// source tree.
#pragma once

#include <filesystem>

namespace cxr {

struct BundledFiles {
  std::filesystem::path web;      // folder of the browser UI (index.html, app.js, style.css)
  std::filesystem::path openapi;  // the API's OpenAPI document
  std::filesystem::path model;    // cxr-small.safetensors; its card and evaluations lie beside it
};

// The files for a program at `executable` (one folder below the prefix or the build
// tree). Throws cxr::Error naming both places looked at when neither layout is there.
BundledFiles bundled_files_for(const std::filesystem::path& executable);

// bundled_files_for(the running program).
BundledFiles bundled_files();

}  // namespace cxr
