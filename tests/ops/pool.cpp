// max_pool2d, avg_pool2d, global_avg_pool2d.
//
// Device tolerances: the pooling kernels perform the CPU's operations in the CPU's
// order, with no FMA on either side (kernels/CMakeLists.txt). Max pooling does no
// arithmetic forward, keeps the CPU's tie rule and sums gradients in the CPU's order:
// exact. Average pooling on random data within 4 ulps (almost(): room for a
// reordering we did not foresee), far below an indexing error, which moves results
// by O(1); exact on small integers where 1/k^2 is exact. The global average sums in
// double in another order: the last bit may differ.
#include "cases.h"

#include <numeric>

namespace cxr::testing {
namespace {

struct Window {
  Shape shape;
  int kernel, stride, padding;
  std::string label() const {
    return shape_label(shape) + "_k" + std::to_string(kernel) + "s" + std::to_string(stride) + "p" +
           std::to_string(padding);
  }
};

// Finite differences: odd inputs with stride 2, 1x1 maps, batch 1, channels not a
// multiple of 8, windows that overlap (stride < kernel), tile exactly, or skip pixels
// (stride > kernel).
const std::vector<Window> kGradWindows = {{{2, 3, 5, 5}, 3, 2, 1}, {{1, 1, 1, 1}, 1, 1, 0}, {{1, 2, 7, 6}, 2, 2, 0},
                                          {{2, 9, 4, 5}, 3, 1, 1}, {{1, 3, 7, 7}, 3, 3, 1}, {{3, 1, 6, 9}, 2, 3, 1},
                                          {{1, 1, 3, 3}, 3, 1, 0}};
const std::vector<Window> kDeviceWindows = {
    {{2, 3, 7, 7}, 3, 2, 1},   // stride 2 on odd input, padding
    {{1, 5, 8, 9}, 2, 2, 0},   // batch 1, odd width
    {{2, 33, 5, 6}, 3, 1, 1},  // channels not a multiple of 32, overlapping windows
    {{3, 2, 1, 1}, 1, 1, 0},   // 1x1 maps
    {{1, 1, 11, 4}, 4, 3, 2},  // tall, padding = half the kernel
};
const Window kBenchWindow = {kBenchActivation, 3, 2, 1};

double almost(DType t) {
  return t == DType::F32 ? 4 * 0x1.0p-24 : 4 * 0x1.0p-53;
}
// Beside almost(): results near zero after cancellation (values here are O(1)).
double almost_atol(DType t) {
  return t == DType::F32 ? 1e-6 : 1e-15;
}

// Distinct values: a random permutation of 0.01 * (0 .. n-1), shifted to [-k, k).
// No two values are within the finite-difference step, so the argmax never flips.
Tensor distinct_values(const Shape& shape, Generator& gen) {
  const std::int64_t n = shape_numel(shape);
  std::vector<double> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0.0);
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[gen.below(static_cast<std::uint64_t>(i + 1))]);
  for (auto& x : v) x = 0.01 * (x - n / 2.0);
  return Tensor::from_vector(v, shape, DType::F64);
}

using Pool = Tensor (*)(const Tensor&, int, int, int);
OpFn pool_of(Pool pool, const Window& w) {
  return [=](const Inputs& in) {
    return pool(in[0], w.kernel, w.stride, w.padding);
  };
}

OpSpec max_pool_spec() {
  OpSpec op("max_pool2d");
  for (const Window& w : kGradWindows)
    op.gradcheck.push_back({w.label() + "_distinct",
                            [w](Generator& gen) { return Inputs{distinct_values(w.shape, gen).set_requires_grad()}; },
                            pool_of(&max_pool2d, w)});
  op.torch_cases = {"max_pool2d", "max_pool2d_padded"};
  op.torch_call = [](ReferenceCase& c) {
    return max_pool2d(c.in("x"), c.meta_int("kernel"), c.meta_int("stride"), c.meta_int("padding"));
  };
  for (DType dt : kBothDtypes)
    for (const Window& w : kDeviceWindows) {
      const std::string label = w.label() + "_" + dtype_label(dt);
      op.devices.push_back({unary_call(label, w.shape, dt, pool_of(&max_pool2d, w)), 0, 0});
      op.devices.push_back(
          {{label + "_ties",  // many ties
            [=](Generator& gen) { return Inputs{int_grad_input(gen, w.shape, dt, 0, 2)}; }, pool_of(&max_pool2d, w)},
           0,
           0});
    }
  op.bench = {unary_call(kBenchWindow.label(), kBenchWindow.shape, DType::F32, pool_of(&max_pool2d, kBenchWindow))};
  return op;
}

OpSpec avg_pool_spec() {
  OpSpec op("avg_pool2d");
  for (const Window& w : kGradWindows)
    op.gradcheck.push_back(unary_call(w.label(), w.shape, DType::F64, pool_of(&avg_pool2d, w)));
  op.torch_cases = {"avg_pool2d", "avg_pool2d_padded"};
  op.torch_call = [](ReferenceCase& c) {
    return avg_pool2d(c.in("x"), c.meta_int("kernel"), c.meta_int("stride"), c.meta_int("padding"));
  };
  for (DType dt : kBothDtypes)
    for (const Window& w : kDeviceWindows) {
      const std::string label = w.label() + "_" + dtype_label(dt);
      op.devices.push_back({unary_call(label, w.shape, dt, pool_of(&avg_pool2d, w)), almost_atol(dt), almost(dt)});
      if (w.kernel == 1 || w.kernel == 2 || w.kernel == 4)  // 1/k^2 exact: integer data gives exact results
        op.devices.push_back(
            {{label + "_integers", [=](Generator& gen) { return Inputs{int_grad_input(gen, w.shape, dt)}; },
              pool_of(&avg_pool2d, w)},
             0,
             0});
    }
  op.bench = {unary_call(kBenchWindow.label(), kBenchWindow.shape, DType::F32, pool_of(&avg_pool2d, kBenchWindow))};
  return op;
}

OpSpec global_avg_pool_spec() {
  OpSpec op("global_avg_pool2d");
  auto run = [](const Inputs& in) {
    return global_avg_pool2d(in[0]);
  };
  for (const Shape& s : std::vector<Shape>{{2, 3, 5, 7}, {1, 1, 1, 1}, {3, 9, 2, 2}, {1, 10, 7, 7}})
    op.gradcheck.push_back(unary_call(shape_label(s), s, DType::F64, run));
  op.torch_cases = {"global_avg_pool2d"};
  op.torch_call = [](ReferenceCase& c) {
    return global_avg_pool2d(c.in("x"));
  };
  for (DType dt : kBothDtypes)
    for (const Window& w : kDeviceWindows)
      op.devices.push_back(
          {unary_call(shape_label(w.shape) + "_" + dtype_label(dt), w.shape, dt, run), 1e-12, 2 * almost(dt)});
  // Large maps take several warps per block in the global average.
  const Shape large = {2, 3, 61, 67};
  op.devices.push_back(
      {{"integers_2x3x61x67_f32", [=](Generator& gen) { return Inputs{int_grad_input(gen, large, DType::F32)}; }, run},
       0,
       0});
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, run)};
  return op;
}

}  // namespace

std::vector<OpSpec> pool_ops() {
  return {max_pool_spec(), avg_pool_spec(), global_avg_pool_spec()};
}

}  // namespace cxr::testing
