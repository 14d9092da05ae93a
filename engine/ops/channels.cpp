// concat_channels and slice_channels along dimension 1 of NCHW tensors, on the CPU or
// the GPU. Both are block copies (the backend's copy_channels); each one's backward is
// the other's copy run in reverse.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace cxr {

namespace {

std::int64_t map_pixels(const Tensor& x) {
  return x.size(2) * x.size(3);
}

}  // namespace

Tensor concat_channels(const std::vector<Tensor>& xs) {
  CXR_CHECK(!xs.empty(), "concat_channels: no tensors to concatenate");
  const Tensor& first = xs.front();
  check_dim("concat_channels", "input 0", first, 4);
  std::int64_t total_C = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    check_dim("concat_channels", "input", x, 4);
    check_contiguous("concat_channels", x);
    CXR_CHECK(x.size(0) == first.size(0) && x.size(2) == first.size(2) && x.size(3) == first.size(3),
              "concat_channels: input {} has shape {}, input 0 has {}: N, H and W must agree", i, shape_str(x.shape()),
              shape_str(first.shape()));
    CXR_CHECK(x.dtype() == first.dtype(), "concat_channels: input {} is {}, input 0 is {}", i, x.str(), first.str());
    check_same_device("concat_channels", {&first, &x});
    total_C += x.size(1);
  }
  const std::int64_t N = first.size(0), HW = map_pixels(first);
  Tensor out = Tensor::empty({N, total_C, first.size(2), first.size(3)}, first.dtype(), first.device());
  std::vector<std::int64_t> offsets;
  std::int64_t c0 = 0;
  for (const Tensor& x : xs) {
    offsets.push_back(c0);
    dispatch_float(x.dtype(), "concat_channels", [&]<class T>() {
      kernels_for<T>(x.device()).copy_channels(out.data<T>(), total_C, c0, x.data<T>(), x.size(1), 0, x.size(1), N, HW);
    });
    c0 += x.size(1);
  }
  std::vector<std::int64_t> widths;
  for (const Tensor& x : xs) widths.push_back(x.size(1));
  record(out, "concat_channels", xs, [offsets, widths](const Tensor& dout_any) {
    const Tensor dout = dout_any.contiguous();
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      Tensor dx = Tensor::empty({dout.size(0), widths[i], dout.size(2), dout.size(3)}, dout.dtype(), dout.device());
      dispatch_float(dout.dtype(), "concat_channels backward", [&]<class T>() {
        kernels_for<T>(dout.device())
            .copy_channels(dx.data<T>(), widths[i], 0, dout.data<T>(), dout.size(1), offsets[i], widths[i],
                           dout.size(0), map_pixels(dout));
      });
      grads.push_back(dx);
    }
    return grads;
  });
  return out;
}

Tensor slice_channels(const Tensor& x, std::int64_t begin, std::int64_t count) {
  check_dim("slice_channels", "input", x, 4);
  check_contiguous("slice_channels", x);
  const std::int64_t C = x.size(1);
  CXR_CHECK(begin >= 0 && count >= 1 && begin + count <= C,
            "slice_channels: channels [{}, {}) are out of range for input {} ({} channels)", begin, begin + count,
            shape_str(x.shape()), C);
  const std::int64_t N = x.size(0), HW = map_pixels(x);
  Tensor out = Tensor::empty({N, count, x.size(2), x.size(3)}, x.dtype(), x.device());
  dispatch_float(x.dtype(), "slice_channels", [&]<class T>() {
    kernels_for<T>(x.device()).copy_channels(out.data<T>(), count, 0, x.data<T>(), C, begin, count, N, HW);
  });
  record(out, "slice_channels", {x}, [begin, count, C](const Tensor& dout_any) {
    const Tensor dout = dout_any.contiguous();
    // The channels outside the slice get no gradient: zeros, then the slice's block.
    Tensor dx = Tensor::zeros({dout.size(0), C, dout.size(2), dout.size(3)}, dout.dtype(), dout.device());
    dispatch_float(dout.dtype(), "slice_channels backward", [&]<class T>() {
      kernels_for<T>(dout.device())
          .copy_channels(dx.data<T>(), C, begin, dout.data<T>(), count, 0, count, dout.size(0), map_pixels(dout));
    });
    return std::vector<Tensor>{dx};
  });
  return out;
}

}  // namespace cxr
