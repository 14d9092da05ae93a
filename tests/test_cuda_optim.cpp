// AdamW, SGD and gradient clipping on the GPU against the same optimizers on the
// CPU, over several steps of a flat buffer of odd size (parameters of 7, 1000 and
// 33x129 elements; the grid-stride loops and the chunked norm see tails).
//
// The update kernels repeat the CPU's operations in its order (kernels/cuda/optimizer.cu;
// division and square root are IEEE-rounded on both), but GCC and nvcc fuse different
// products into FMAs, so after every step the parameters and the state agree within
// 8 ulps per step taken (an indexing or formula error moves values by far more).
// The squared norm is summed in double in another order: the norm agrees to 1e-12
// relative.
#include "cuda_testing.h"

#include "engine/nn/module.h"
#include "engine/optim/adamw.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/sgd.h"

using namespace cxr;
using cxr::testing::expect_close;
using cxr::testing::random_tensor;

namespace {

class OddParams : public Module {
 public:
  OddParams() {
    declare_parameter("a", &a, {7}, Init::kaiming_normal(7));
    declare_parameter("b", &b, {1000}, Init::kaiming_normal(10));
    declare_parameter("c", &c, {33, 129}, Init::kaiming_normal(129));
  }
  Tensor a, b, c;
};

// The same module initialisation twice; the second set moved to the GPU.
struct TwinSets {
  OddParams cpu_module, gpu_module;
  ParameterSet cpu, gpu;
  explicit TwinSets(DType dtype) : cpu(cpu_module, 3, dtype), gpu(gpu_module, 3, dtype) { gpu.to(Device::cuda()); }
  // The same random gradient in both sets.
  void set_grads(std::uint64_t seed, double scale = 1.0) {
    Generator gen(seed);
    const Tensor g = random_tensor(cpu.grads().shape(), gen, cpu.grads().dtype(), -scale, scale);
    cpu.grads().copy_(g);
    gpu.grads().copy_(g);
  }
};

double ulps(DType t, int steps) {
  return 8.0 * steps * (t == DType::F32 ? 0x1.0p-24 : 0x1.0p-53);
}
double floor_atol(DType t) {
  return t == DType::F32 ? 1e-7 : 1e-16;
}  // values cancelling to ~0

TEST(CudaOptim, AdamWStepsMatchTheCpu) {
  CXR_REQUIRE_GPU();
  for (DType dt : {DType::F32, DType::F64}) {
    TwinSets sets(dt);
    const AdamWOptions o{1e-2, 0.9, 0.999, 1e-8, 0.05};
    AdamW on_cpu(sets.cpu, o), on_gpu(sets.gpu, o);
    EXPECT_TRUE(on_gpu.exp_avg().device().is_cuda());
    for (int t = 1; t <= 6; ++t) {
      SCOPED_TRACE("step " + std::to_string(t));
      sets.set_grads(100 + t);
      on_cpu.step();
      on_gpu.step();
      expect_close(sets.gpu.values(), sets.cpu.values(), floor_atol(dt), ulps(dt, t));
      expect_close(on_gpu.exp_avg(), on_cpu.exp_avg(), floor_atol(dt), ulps(dt, t));
      expect_close(on_gpu.exp_avg_sq(), on_cpu.exp_avg_sq(), floor_atol(dt), ulps(dt, t));
    }
  }
}

TEST(CudaOptim, SgdPlainMomentumAndNesterovMatchTheCpu) {
  CXR_REQUIRE_GPU();
  for (DType dt : {DType::F32, DType::F64})
    for (const SGDOptions& o : {SGDOptions{0.1, 0.0, 0.0, 0.0, false}, SGDOptions{0.05, 0.9, 0.1, 1e-3, false},
                                SGDOptions{0.05, 0.9, 0.0, 1e-3, true}}) {
      SCOPED_TRACE("momentum " + std::to_string(o.momentum) + (o.nesterov ? " nesterov" : ""));
      TwinSets sets(dt);
      SGD on_cpu(sets.cpu, o), on_gpu(sets.gpu, o);
      for (int t = 1; t <= 4; ++t) {
        sets.set_grads(200 + t);
        on_cpu.step();
        on_gpu.step();
        expect_close(sets.gpu.values(), sets.cpu.values(), floor_atol(dt), ulps(dt, t));
      }
    }
}

TEST(CudaOptim, ClipGradNormMatchesTheCpu) {
  CXR_REQUIRE_GPU();
  for (DType dt : {DType::F32, DType::F64}) {
    TwinSets sets(dt);
    sets.set_grads(300, 2.0);
    const double norm_cpu = clip_grad_norm(sets.cpu, 1e9), norm_gpu = clip_grad_norm(sets.gpu, 1e9);
    EXPECT_NEAR(norm_gpu, norm_cpu, 1e-12 * norm_cpu);  // not clipped: gradients untouched
    expect_close(sets.gpu.grads(), sets.cpu.grads(), 0, 0);
    const double clipped_cpu = clip_grad_norm(sets.cpu, 0.5), clipped_gpu = clip_grad_norm(sets.gpu, 0.5);
    EXPECT_NEAR(clipped_gpu, clipped_cpu, 1e-12 * clipped_cpu);
    // The scale max_norm / (norm + 1e-6) is formed from norms equal to 1e-12 relative.
    expect_close(sets.gpu.grads(), sets.cpu.grads(), floor_atol(dt), 1e-11);
  }
}

TEST(CudaOptim, StateOnAnotherDeviceIsRejected) {
  CXR_REQUIRE_GPU();
  TwinSets sets(DType::F32);
  AdamW opt(sets.cpu, AdamWOptions{});
  sets.cpu.grads() = sets.cpu.grads().to(Device::cuda());  // moved behind the optimizer's back
  try {
    opt.step();
    FAIL() << "AdamW accepted gradients on another device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different devices"), std::string::npos) << e.what();
  }
}

}  // namespace
