// reshape and flatten: views, so every backend must give back the very elements.
#include "cases.h"

namespace cxr::testing {
namespace {

const Shape kShape = {2, 3, 4, 5};

OpSpec reshape_spec() {
  OpSpec op("reshape");
  op.gradcheck = {unary_call("2x3x4x5_to_5x-1x3", kShape, DType::F64, [](const Inputs& in) {
    return reshape(in[0], {5, -1, 3});
  })};
  op.torch_cases = {"reshape"};
  op.torch_call = [](ReferenceCase& c) {
    return reshape(c.in("x"), c.meta_shape("shape"));
  };
  op.devices = {{unary_call("2x3x5x7_to_5x-1_f64", {2, 3, 5, 7}, DType::F64,
                            [](const Inputs& in) {
                              return reshape(in[0], {5, -1});
                            }),
                 0, 0}};
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, [](const Inputs& in) {
    return reshape(in[0], {32, -1});
  })};
  return op;
}

OpSpec flatten_spec() {
  OpSpec op("flatten");
  op.gradcheck = {unary_call("2x3x4x5", kShape, DType::F64, [](const Inputs& in) { return flatten(in[0]); })};
  op.torch_cases = {"flatten"};
  op.torch_call = [](ReferenceCase& c) {
    return flatten(c.in("x"));
  };
  // Through relu, so that the view feeds a kernel on the GPU.
  op.devices = {{unary_call("relu_of_2x3x5x7_f32", {2, 3, 5, 7}, DType::F32,
                            [](const Inputs& in) { return relu(flatten(in[0])); }),
                 0, 0}};
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, [](const Inputs& in) { return flatten(in[0]); })};
  return op;
}

}  // namespace

std::vector<OpSpec> shape_ops() {
  return {reshape_spec(), flatten_spec()};
}

}  // namespace cxr::testing
