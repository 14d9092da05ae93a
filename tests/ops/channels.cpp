// concat_channels and slice_channels.
//
// Device tolerances: both are copies, so every backend equals the CPU: atol = rtol = 0.
#include "cases.h"

namespace cxr::testing {
namespace {

// Inputs of N x C_i x H x W for each listed C_i.
std::function<Inputs(Generator&)> channel_inputs(std::int64_t N, std::vector<std::int64_t> channels, std::int64_t H,
                                                 std::int64_t W, DType dt) {
  return [=](Generator& gen) {
    Inputs in;
    for (std::int64_t C : channels) in.push_back(grad_input(gen, {N, C, H, W}, dt));
    return in;
  };
}

struct Concat {
  std::int64_t N;
  std::vector<std::int64_t> channels;
  std::int64_t H, W;
  std::string label() const {
    std::string s = std::to_string(N) + "x(";
    for (std::size_t i = 0; i < channels.size(); ++i) {
      if (i > 0) s += '+';
      s += std::to_string(channels[i]);
    }
    return s + ")x" + std::to_string(H) + "x" + std::to_string(W);
  }
};

const std::vector<Concat> kConcatGrad = {{1, {1}, 1, 1}, {2, {3, 2}, 4, 5}, {1, {1, 4, 2}, 3, 3}, {3, {2, 1}, 1, 7}};
const std::vector<Concat> kConcatDevice = {
    {1, {1}, 1, 1}, {2, {3, 2}, 4, 5}, {2, {33, 17, 1}, 9, 7}, {4, {64, 64}, 16, 16}};

OpSpec concat_channels_spec() {
  OpSpec op("concat_channels");
  auto run = [](const Inputs& in) {
    return concat_channels(in);
  };
  for (const Concat& c : kConcatGrad)
    op.gradcheck.push_back({c.label(), channel_inputs(c.N, c.channels, c.H, c.W, DType::F64), run});
  op.torch_cases = {"concat_channels"};
  op.torch_call = [](ReferenceCase& c) {
    return concat_channels({c.in("x"), c.in("y")});
  };
  for (DType dt : kBothDtypes)
    for (const Concat& c : kConcatDevice)
      op.devices.push_back(
          {{c.label() + "_" + dtype_label(dt), channel_inputs(c.N, c.channels, c.H, c.W, dt), run}, 0, 0});
  // The U-Net's widest skip connection at batch 8 and 128 px.
  op.bench = {{"unet_skip", channel_inputs(8, {32, 32}, 64, 64, DType::F32), run}};
  return op;
}

struct Slice {
  Shape shape;
  std::int64_t begin, count;
  std::string label() const { return shape_label(shape) + "_" + std::to_string(begin) + "+" + std::to_string(count); }
  OpFn run() const {
    return [b = begin, n = count](const Inputs& in) {
      return slice_channels(in[0], b, n);
    };
  }
};

const std::vector<Slice> kSliceGrad = {{{1, 1, 1, 1}, 0, 1}, {{2, 5, 3, 4}, 1, 3}, {{1, 4, 2, 2}, 3, 1}};
const std::vector<Slice> kSliceDevice = {{{1, 1, 1, 1}, 0, 1}, {{2, 5, 3, 4}, 1, 3}, {{3, 66, 9, 7}, 33, 33}};

OpSpec slice_channels_spec() {
  OpSpec op("slice_channels");
  for (const Slice& s : kSliceGrad) op.gradcheck.push_back(unary_call(s.label(), s.shape, DType::F64, s.run()));
  op.torch_cases = {"slice_channels"};
  op.torch_call = [](ReferenceCase& c) {
    return slice_channels(c.in("x"), c.meta_int("begin"), c.meta_int("count"));
  };
  for (DType dt : kBothDtypes)
    for (const Slice& s : kSliceDevice)
      op.devices.push_back({unary_call(s.label() + "_" + dtype_label(dt), s.shape, dt, s.run()), 0, 0});
  const Slice bench = {{8, 64, 64, 64}, 16, 32};
  op.bench = {unary_call(bench.label(), bench.shape, DType::F32, bench.run())};
  return op;
}

}  // namespace

std::vector<OpSpec> channel_ops() {
  return {concat_channels_spec(), slice_channels_spec()};
}

}  // namespace cxr::testing
