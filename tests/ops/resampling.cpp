// resize_bilinear.
//
// Device tolerances: the kernels perform the CPU's operations in the CPU's order,
// except that GCC and nvcc fuse different products into FMAs; random data agrees
// within 16 ulps of its O(1)..O(10) terms, far below an indexing error, which moves
// results by O(1). x2 upsampling weighs by 1/4 and 3/4, so small integers stay exact.
#include "cases.h"

namespace cxr::testing {
namespace {

struct Resize {
  Shape shape;
  int out_h, out_w;
  std::string label() const {
    return shape_label(shape) + "_to_" + std::to_string(out_h) + "x" + std::to_string(out_w);
  }
  OpFn run() const {
    return [h = out_h, w = out_w](const Inputs& in) {
      return resize_bilinear(in[0], h, w);
    };
  }
};

const std::vector<Resize> kGradCases = {
    {{2, 3, 3, 4}, 7, 5},  // upsampling by non-integer factors
    {{1, 2, 7, 6}, 3, 4},  // downsampling
    {{1, 1, 1, 1}, 3, 2},  // a single pixel spreads everywhere
    {{2, 1, 5, 5}, 5, 5},  // same size: identity
    {{1, 3, 2, 3}, 1, 1},  // down to one pixel
    {{1, 9, 4, 5}, 9, 2},  // up in one direction, down in the other
    {{1, 1, 7, 7}, 16, 16},
};
const std::vector<Resize> kDeviceCases = {
    {{1, 1, 1, 1}, 3, 5},    // from a 1x1 map
    {{2, 3, 7, 9}, 14, 18},  // x2 up, odd sizes
    {{2, 33, 9, 7}, 4, 3},   // down, channels not a multiple of 32
    {{1, 2, 5, 5}, 5, 5},    // identity size
    {{3, 1, 6, 10}, 13, 1},  // mixed, to one column
};
// Grad-CAM's upsampling of a 7x7 map to the input.
const Resize kBenchCase = {{32, 1, 7, 7}, 224, 224};

double fused_rtol(DType t) {
  return t == DType::F32 ? 16 * 0x1.0p-24 : 16 * 0x1.0p-53;
}
double fused_atol(DType t) {
  return t == DType::F32 ? 1e-5 : 1e-14;
}

OpSpec resize_bilinear_spec() {
  OpSpec op("resize_bilinear");
  for (const Resize& c : kGradCases) op.gradcheck.push_back(unary_call(c.label(), c.shape, DType::F64, c.run()));
  op.torch_cases = {"resize_bilinear_up", "resize_bilinear_down", "resize_bilinear_half"};
  op.torch_call = [](ReferenceCase& c) {
    return resize_bilinear(c.in("x"), c.meta_int("out_h"), c.meta_int("out_w"));
  };
  for (DType dt : kBothDtypes)
    for (const Resize& c : kDeviceCases)
      op.devices.push_back(
          {unary_call(c.label() + "_" + dtype_label(dt), c.shape, dt, c.run()), fused_atol(dt), fused_rtol(dt)});
  const Resize twice = {{2, 3, 5, 7}, 10, 14};
  op.devices.push_back(
      {{twice.label() + "_integers_f32",
        [s = twice.shape](Generator& gen) { return Inputs{int_grad_input(gen, s, DType::F32)}; }, twice.run()},
       0,
       0});
  op.bench = {unary_call(kBenchCase.label(), kBenchCase.shape, DType::F32, kBenchCase.run())};
  return op;
}

}  // namespace

std::vector<OpSpec> resampling_ops() {
  return {resize_bilinear_spec()};
}

}  // namespace cxr::testing
