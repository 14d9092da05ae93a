// Error texts leaving the server carry no absolute path (server/path_redaction.h).
#include "server/path_redaction.h"

#include <gtest/gtest.h>

using cxr::server::without_absolute_paths;

TEST(PathRedaction, AbsolutePathsKeepOnlyTheirFileName) {
  EXPECT_EQ(without_absolute_paths("safetensors file '/srv/cxr/store/models/v3.safetensors': truncated"),
            "safetensors file '.../v3.safetensors': truncated");
  EXPECT_EQ(without_absolute_paths("/home/u/data holds 64x64 images but v2 was trained from 224x224: rebuild"),
            ".../data holds 64x64 images but v2 was trained from 224x224: rebuild");
  EXPECT_EQ(without_absolute_paths("cannot read /var/lib/cxr/images/ab/abcdef: No such file."),
            "cannot read .../abcdef: No such file.");
  EXPECT_EQ(without_absolute_paths("two (/a/b/c, /d/e) and x=/f/g"), "two (.../c, .../e) and x=.../g");
}

TEST(PathRedaction, OtherTextIsUnchanged) {
  EXPECT_EQ(without_absolute_paths("label 'covid/viral' and 1/2 of the images, ratio 3/4"),
            "label 'covid/viral' and 1/2 of the images, ratio 3/4");
  EXPECT_EQ(without_absolute_paths("GET /api/v1/jobs"), "GET .../jobs");  // a bare path is a path
  EXPECT_EQ(without_absolute_paths("the root / stays"), "the root / stays");
  EXPECT_EQ(without_absolute_paths(""), "");
}
