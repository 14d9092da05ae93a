// The per-op benchmark, generated from the op registry (tests/ops/registry.h): each
// op's bench calls (the reference net's shapes at batch 32, float32), forward alone
// and forward + backward, on the CPU and, when the CUDA backend is compiled and a GPU
// is visible, on the GPU (each iteration waits for the GPU). Names read
// <pass>/<op>/<call>/<device>. Forward runs report bytes_per_second of compulsory
// traffic (every input read once, the output written once), to set beside
// bench_norm_pool's copy ceiling.
#include "registry.h"

#include "engine/autograd.h"
#include "kernels/cuda/runtime.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace cxr;
using namespace cxr::testing;

double bytes_of(const Tensor& t) {
  return static_cast<double>(t.numel()) * static_cast<double>(dtype_size(t.dtype()));
}

void time_call(benchmark::State& state, const OpCall& call, Device device, bool backward) {
  Generator gen(1);
  Inputs inputs;
  for (const Tensor& t : call.inputs(gen)) {
    Tensor on_device = t.detach().to(device);
    on_device.set_requires_grad(backward && t.requires_grad());
    inputs.push_back(on_device);
  }
  const Tensor first = call.run(inputs);  // warms caches and allocator, gives the output's size
  const Tensor seed = Tensor::ones(first.shape(), first.dtype(), device);
  double traffic = bytes_of(first);
  for (const Tensor& t : inputs) traffic += bytes_of(t);
  for (auto _ : state) {
    if (backward) {
      for (Tensor& t : inputs)
        if (t.requires_grad()) t.set_grad(Tensor());
      call.run(inputs).backward(seed);
    } else {
      NoGradGuard no_grad;
      benchmark::DoNotOptimize(call.run(inputs));
    }
    if (device.is_cuda()) cuda::synchronize();
  }
  if (!backward) state.SetBytesProcessed(static_cast<std::int64_t>(traffic) * state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Device> devices = {Device::cpu()};
  if (cuda::compiled() && cuda::device_count() > 0) devices.push_back(Device::cuda());
  for (const OpSpec& op : all_ops())
    for (const OpCall& call : op.bench)
      for (Device device : devices)
        for (bool backward : {false, true}) {
          if (backward && !op.has_backward) continue;
          const std::string name = std::string(backward ? "forward_backward/" : "forward/") + op.name + "/" +
                                   call.label + "/" + device.str();
          benchmark::RegisterBenchmark(
              name.c_str(),
              [&call, device, backward](benchmark::State& state) { time_call(state, call, device, backward); })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
