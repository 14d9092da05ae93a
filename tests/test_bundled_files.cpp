// models/bundled_files.h: an installation's share/cxr is found beside its bin/, a
// build tree's source tree through its cxr-source-dir file, and neither is an error.
#include "models/bundled_files.h"

#include "base/check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("cxr-bundled-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(BundledFiles, InstalledLayoutBesideBin) {
  TempDir t;
  fs::create_directories(t.path / "prefix" / "share" / "cxr");
  const auto files = cxr::bundled_files_for(t.path / "prefix" / "bin" / "cxr");
  EXPECT_EQ(files.web, t.path / "prefix" / "share" / "cxr" / "web");
  EXPECT_EQ(files.openapi, t.path / "prefix" / "share" / "cxr" / "openapi.yaml");
  EXPECT_EQ(files.model, t.path / "prefix" / "share" / "cxr" / "models" / "cxr-small.safetensors");
}

TEST(BundledFiles, BuildTreeNamesItsSourceTree) {
  TempDir t;
  fs::create_directories(t.path / "build" / "app");
  std::ofstream(t.path / "build" / "cxr-source-dir") << (t.path / "src").string() << "\n";
  const auto files = cxr::bundled_files_for(t.path / "build" / "app" / "cxr");
  EXPECT_EQ(files.web, t.path / "src" / "web");
  EXPECT_EQ(files.openapi, t.path / "src" / "docs" / "openapi.yaml");
  EXPECT_EQ(files.model, t.path / "src" / "models" / "pretrained" / "cxr-small.safetensors");
}

TEST(BundledFiles, RelativeSourceTreeIsRelativeToTheBuildTree) {
  TempDir t;
  fs::create_directories(t.path / "checkout" / ".gpu-bundle" / "bin");
  std::ofstream(t.path / "checkout" / ".gpu-bundle" / "cxr-source-dir") << "..\n";
  const auto files = cxr::bundled_files_for(t.path / "checkout" / ".gpu-bundle" / "bin" / "cxr");
  EXPECT_EQ(fs::weakly_canonical(files.web), t.path / "checkout" / "web");
}

TEST(BundledFiles, NeitherLayoutIsAnError) {
  TempDir t;
  fs::create_directories(t.path / "loose");
  EXPECT_THROW(cxr::bundled_files_for(t.path / "loose" / "cxr"), cxr::Error);
}

TEST(BundledFiles, TheRunningTestFindsTheBuildTreesSource) {
  // This test runs from <build>/tests, whose cxr-source-dir names the source tree.
  EXPECT_TRUE(fs::exists(cxr::bundled_files().model));
  EXPECT_TRUE(fs::exists(cxr::bundled_files().web / "index.html"));
}

}  // namespace
