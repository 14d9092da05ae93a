// conv2d, conv2d_relu and linear.
//
// conv2d's other device checks (float32 within the rounding bound of the exact
// result, bit-identical runs, launchers with canaries) are still in the file named
// in `elsewhere`; the GPU cases are shared with it (conv_cases.h).
#include "conv_cases.h"

#include <algorithm>

namespace cxr::testing {
namespace {

// Small shapes for finite differences: every path (pointwise, depthwise 3x3,
// im2col), odd sizes, stride 2 on odd inputs, 1x1 maps, batch 1, channels not a
// multiple of 8, with and without bias.
const std::vector<Conv> kGradCases = {
    {"standard 3x3", 2, 3, 5, 6, 4, 3, 1, 0, 1, true},
    {"strided padded on odd input", 2, 3, 7, 7, 5, 3, 2, 1, 1, true},
    {"stem-like 1 -> 4 stride 2", 1, 1, 7, 9, 4, 3, 2, 1, 1, false},
    {"5x5 padded 2", 1, 2, 6, 5, 3, 5, 1, 2, 1, true},
    {"padding larger than the kernel reach", 1, 2, 3, 3, 2, 3, 1, 3, 1, true},
    {"grouped", 2, 6, 5, 5, 4, 3, 1, 1, 2, true},
    {"grouped stride 2 no padding", 1, 4, 7, 6, 6, 3, 2, 0, 2, false},
    {"depthwise", 2, 3, 5, 7, 3, 3, 1, 1, 3, true},
    {"depthwise stride 2 odd input", 2, 5, 7, 9, 5, 3, 2, 1, 5, true},
    {"depthwise no padding", 1, 3, 6, 5, 3, 3, 1, 0, 3, false},
    {"depthwise stride 2 no padding", 1, 2, 8, 7, 2, 3, 2, 0, 2, true},
    {"depthwise 1x1 map", 2, 3, 1, 1, 3, 3, 1, 1, 3, true},
    {"depthwise stride 3", 1, 2, 8, 8, 2, 3, 3, 1, 2, false},
    {"depthwise padding 3", 1, 2, 4, 3, 2, 3, 1, 3, 2, true},
    {"depthwise 5x5 (im2col)", 1, 3, 6, 6, 3, 5, 1, 2, 3, true},
    {"pointwise", 2, 3, 4, 5, 5, 1, 1, 0, 1, true},
    {"pointwise 1x1 map batch 1", 1, 9, 1, 1, 7, 1, 1, 0, 1, false},
    {"1x1 stride 2 (im2col)", 2, 3, 5, 5, 4, 1, 2, 0, 1, true},
    {"3x3 on a 1x1 map", 2, 3, 1, 1, 2, 3, 1, 1, 1, true},
};

// conv2d_relu: pointwise, depthwise (strides 1 and 2, odd sizes) and the general
// im2col path, with bias.
const std::vector<Conv> kReluGradCases = {
    {"pointwise 5 -> 6", 2, 5, 7, 9, 6, 1, 1, 0, 1, true},
    {"depthwise", 2, 6, 9, 7, 6, 3, 1, 1, 6, true},
    {"depthwise stride 2 odd input", 1, 3, 11, 8, 3, 3, 2, 1, 3, true},
    {"stem-like 1 -> 4 stride 2", 2, 1, 13, 13, 4, 3, 2, 1, 1, true},
    {"grouped 4 -> 6", 1, 4, 5, 6, 6, 3, 1, 1, 2, true},
};

// The reference net's layer kinds at batch 32.
const std::vector<Conv> kBenchCases = {
    {"stem 1 -> 32 s2 224x224", 32, 1, 224, 224, 32, 3, 2, 1, 1, false},
    {"depthwise 128 28x28", 32, 128, 28, 28, 128, 3, 1, 1, 128, false},
    {"pointwise 128 -> 256 28x28", 32, 128, 28, 28, 256, 1, 1, 0, 1, false},
};

using ConvFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, const Conv2dOptions&);
OpFn conv_of(ConvFn f, const Conv& c) {
  return [f, opt = c.options()](const Inputs& in) {
    return f(in[0], in[1], optional_input(in, 2), opt);
  };
}

std::vector<OpCall> bench_calls(ConvFn f) {
  std::vector<OpCall> calls;
  for (const Conv& c : kBenchCases) calls.push_back({c.name, c.inputs(DType::F32), conv_of(f, c)});
  return calls;
}

std::vector<DeviceCase> device_cases(ConvFn f) {
  std::vector<DeviceCase> cases;
  for (const Conv& c : kDeviceConvs) {
    // float64 on both sides: the GPU sums in another order. A result of n terms of
    // magnitude <= 1 (n <= 840 here: the weight gradient's N*H_out*W_out) differs by at
    // most n * n * 2^-53 ~ 8e-11 in the worst case.
    cases.push_back({{std::string(c.name) + " f64", c.inputs(DType::F64), conv_of(f, c)},
                     1e-10,
                     1e-10,
                     [](const Shape& s, DType dt, Generator& gen) {
                       return random_tensor(s, gen, dt);
                     }});
    // Small integers (inputs and upstream gradient in [-2, 2]): every partial sum is an
    // integer below 2^24, so the GPU and the CPU both compute exactly; with the fused
    // ReLU both mask the same elements (those whose exact output is <= 0).
    cases.push_back({{std::string(c.name) + " f32 integers", c.inputs(DType::F32, true), conv_of(f, c)},
                     0,
                     0,
                     [](const Shape& s, DType dt, Generator& gen) {
                       return random_int_tensor(s, gen, -2, 2, dt);
                     }});
  }
  return cases;
}

OpSpec conv2d_spec() {
  OpSpec op("conv2d");
  for (const Conv& c : kGradCases) op.gradcheck.push_back({c.name, c.inputs(DType::F64), conv_of(&conv2d, c)});
  op.torch_cases = {"conv2d_standard",  "conv2d_strided",           "conv2d_padded",   "conv2d_stem", "conv2d_grouped",
                    "conv2d_depthwise", "conv2d_depthwise_strided", "conv2d_pointwise"};
  op.torch_call = [](ReferenceCase& c) {
    return conv2d(c.in("x"), c.in("weight"), c.optional("bias"),
                  {c.meta_int("stride"), c.meta_int("padding"), c.meta_int("groups")});
  };
  op.devices = device_cases(&conv2d);
  op.elsewhere.devices = "tests/test_cuda_conv.cpp";
  op.bench = bench_calls(&conv2d);
  return op;
}

OpSpec conv2d_relu_spec() {
  OpSpec op("conv2d_relu");
  op.torch_cases = {"conv2d_relu"};
  op.torch_call = [](ReferenceCase& c) {
    return conv2d_relu(c.in("x"), c.in("weight"), c.optional("bias"),
                       {c.meta_int("stride"), c.meta_int("padding"), c.meta_int("groups")});
  };
  for (const Conv& c : kReluGradCases) op.gradcheck.push_back({c.name, c.inputs(DType::F64), conv_of(&conv2d_relu, c)});
  op.pre_activation = [](const std::string& label, const Inputs& in) {
    const auto c =
        std::find_if(kReluGradCases.begin(), kReluGradCases.end(), [&](const Conv& k) { return label == k.name; });
    return conv_of(&conv2d, *c)(in);
  };
  op.devices = device_cases(&conv2d_relu);
  op.bench = bench_calls(&conv2d_relu);
  return op;
}

struct Linear {
  std::int64_t N, in, out;
  bool bias;
  std::string label() const {
    return std::to_string(N) + "x" + std::to_string(in) + "_to_" + std::to_string(out) + (bias ? "" : "_no_bias");
  }
  // Uniform in [-1, 1), or small integers in [-2, 2].
  std::function<Inputs(Generator&)> inputs(DType dt, bool integers = false) const {
    const Linear c = *this;
    return [=](Generator& gen) {
      auto make = [&](const Shape& s) {
        return integers ? int_grad_input(gen, s, dt, -2, 2) : grad_input(gen, s, dt);
      };
      Inputs in{make({c.N, c.in}), make({c.out, c.in})};
      if (c.bias) in.push_back(make({c.out}));
      return in;
    };
  }
};

// On the GPU: odd sizes, one output, more rows and columns than a tile.
const std::vector<Linear> kDeviceLinears = {{1, 1, 1, true},   {5, 7, 3, true},    {33, 65, 10, false},
                                            {1, 300, 2, true}, {64, 129, 1, true}, {130, 20, 140, true}};

OpSpec linear_spec() {
  OpSpec op("linear");
  auto run = [](const Inputs& in) {
    return linear(in[0], in[1], optional_input(in, 2));
  };
  for (const Linear& c :
       {Linear{1, 1, 1, true}, Linear{3, 7, 5, true}, Linear{4, 17, 4, false}, Linear{2, 33, 9, true}})
    op.gradcheck.push_back({c.label(), c.inputs(DType::F64), run});
  op.torch_cases = {"linear", "linear_no_bias"};
  op.torch_call = [](ReferenceCase& c) {
    return linear(c.in("x"), c.in("weight"), c.optional("bias"));
  };
  for (const Linear& c : kDeviceLinears) {
    // float64: the GPU and the CPU differ only in summation order; with at most 300
    // terms of magnitude <= 1 the rounding differences stay below 300 * 2^-52 ~ 7e-14.
    op.devices.push_back(
        {{c.label() + "_f64", c.inputs(DType::F64), run}, 1e-12, 1e-12, [](const Shape& s, DType dt, Generator& gen) {
           return random_tensor(s, gen, dt);
         }});
    // float32 on small integers (and an integer upstream gradient): exact on both sides.
    op.devices.push_back({{c.label() + "_f32_integers", c.inputs(DType::F32, true), run},
                          0,
                          0,
                          [](const Shape& s, DType dt, Generator& gen) {
                            return random_int_tensor(s, gen, -2, 2, dt);
                          }});
  }
  // The classifier head at batch 32, and a square layer.
  for (const Linear& c : {Linear{32, 512, 4, true}, Linear{256, 1024, 1024, true}})
    op.bench.push_back({c.label(), c.inputs(DType::F32), run});
  return op;
}

}  // namespace

std::vector<OpSpec> conv_ops() {
  return {conv2d_spec(), conv2d_relu_spec(), linear_spec()};
}

}  // namespace cxr::testing
