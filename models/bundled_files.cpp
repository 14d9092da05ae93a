#include "models/bundled_files.h"

#include "base/check.h"

#include <fstream>
#include <string>

namespace cxr {

namespace fs = std::filesystem;

BundledFiles bundled_files_for(const fs::path& executable) {
  const fs::path base = executable.parent_path().parent_path();
  const fs::path share = base / "share" / "cxr";
  if (fs::is_directory(share))
    return {share / "web", share / "openapi.yaml", share / "models" / "cxr-small.safetensors"};

  const fs::path marker = base / "cxr-source-dir";
  std::ifstream in(marker);
  std::string source;
  CXR_CHECK(in && std::getline(in, source) && !source.empty(),
            "cannot find cxr's bundled files for {}: expected {} (an installation) or {} (a build tree)",
            executable.string(), share.string(), marker.string());
  const fs::path root = base / source;  // a relative name is relative to the marker's folder
  return {root / "web", root / "docs" / "openapi.yaml", root / "models" / "pretrained" / "cxr-small.safetensors"};
}

BundledFiles bundled_files() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  CXR_CHECK(!ec, "cannot find cxr's bundled files: reading /proc/self/exe failed: {}", ec.message());
  return bundled_files_for(self);
}

}  // namespace cxr
