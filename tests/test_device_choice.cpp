// --device: every build answers cpu, auto and the errors; cuda works or says why
// (which branch runs depends on the build and the machine, each one checked).
#include "expect_error.h"

#include "kernels/cuda/runtime.h"
#include "models/device_choice.h"

#include <gtest/gtest.h>

namespace cxr {
namespace {

using testing::expect_error_mentioning;

bool gpu_usable() {
  return cuda::compiled() && cuda::device_count() > 0;
}

TEST(DeviceChoice, CpuIsAlwaysThere) {
  EXPECT_EQ(resolve_device("cpu"), Device::cpu());
}

TEST(DeviceChoice, AutoPicksTheGpuOnlyWhenOneCanBeUsed) {
  EXPECT_EQ(resolve_device("auto"), gpu_usable() ? Device::cuda() : Device::cpu());
}

TEST(DeviceChoice, CudaWorksOrSaysWhyNot) {
  for (const char* name : {"cuda", "cuda:0"}) {
    if (!cuda::compiled()) {
      expect_error_mentioning([&] { resolve_device(name); }, {name, "CUDA backend not compiled", "--device cpu"});
    } else if (cuda::device_count() == 0) {
      expect_error_mentioning([&] { resolve_device(name); }, {name, "no CUDA GPU visible", "--device cpu"});
    } else {
      EXPECT_EQ(resolve_device(name), Device::cuda(0));
    }
  }
}

TEST(DeviceChoice, OtherGpusArePickedWithCudaVisibleDevices) {
  expect_error_mentioning([] { resolve_device("cuda:2"); }, {"cuda:2", "one GPU", "CUDA_VISIBLE_DEVICES=2"});
}

TEST(DeviceChoice, UnknownNamesListTheChoices) {
  for (const char* name : {"gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", ""})
    expect_error_mentioning([&] { resolve_device(name); }, {"expected cpu, cuda or auto"});
}

}  // namespace
}  // namespace cxr
