// sum and mean over all elements.
//
// Device tolerances: both backends sum in double, in different orders, so the rounded
// results may differ in the last bit: atol 1e-12 (results near zero), rtol 2 x 4 ulps.
// Small integers keep every partial sum exact: equality.
#include "cases.h"

namespace cxr::testing {
namespace {

const std::vector<Shape> kGradShapes = {{1}, {7}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 13}};
const std::vector<Shape> kDeviceShapes = {{1}, {7}, {1000}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 33, 7, 9}, {70001}};

double almost(DType t) {
  return t == DType::F32 ? 4 * 0x1.0p-24 : 4 * 0x1.0p-53;
}  // 4 ulps relative

OpSpec reduction_spec(const std::string& name, Tensor (*reduce)(const Tensor&), bool integer_case) {
  OpSpec op(name);
  auto run = [reduce](const Inputs& in) {
    return reduce(in[0]);
  };
  for (const Shape& s : kGradShapes) op.gradcheck.push_back(unary_call(shape_label(s), s, DType::F64, run));
  op.torch_cases = {name};
  op.torch_call = [reduce](ReferenceCase& c) {
    return reduce(c.in("x"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes) {
      const std::string label = shape_label(s) + "_" + dtype_label(dt);
      op.devices.push_back({unary_call(label, s, dt, run), 1e-12, 2 * almost(dt)});
      if (integer_case)
        op.devices.push_back(
            {{label + "_integers", [=](Generator& gen) { return Inputs{int_grad_input(gen, s, dt)}; }, run}, 0, 0});
    }
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, run)};
  return op;
}

}  // namespace

std::vector<OpSpec> reduction_ops() {
  return {reduction_spec("sum", &sum, true), reduction_spec("mean", &mean, false)};
}

}  // namespace cxr::testing
