#include "engine/tensor.h"

#include "engine/autograd.h"
#include "engine/backend.h"

#include <algorithm>

namespace cxr {

namespace {

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, Device device, bool zero_fill) {
  for (auto d : shape) CXR_CHECK(d >= 0, "tensor: negative extent in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device, zero_fill);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}

// Offset (in elements) of the flat row-major index i in a strided view.
std::int64_t strided_offset(const TensorImpl& t, std::int64_t i) {
  std::int64_t off = t.offset;
  for (std::size_t d = t.shape.size(); d-- > 0;) {
    off += (i % t.shape[d]) * t.strides[d];
    i /= t.shape[d];
  }
  return off;
}

// Elements of storage a view reaches: offset up to its last element (strides >= 0).
std::int64_t span_end(const TensorImpl& t) {
  std::int64_t end = t.offset + 1;
  for (std::size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 0) return t.offset;
    end += (t.shape[d] - 1) * t.strides[d];
  }
  return end;
}

// A CPU copy of a device (GPU) view with the same shape, strides and dtype: the
// storage range the view reaches is downloaded, so strided views come across as they are.
Tensor download_view(const Tensor& t) {
  const std::size_t esize = dtype_size(t.dtype());
  const std::int64_t count = span_end(t.impl()) - t.offset();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(count) * esize, Device::cpu(), false);
  impl->shape = t.shape();
  impl->strides = t.strides();
  impl->dtype = t.dtype();
  backend_for(t.device())
      .copy_bytes(impl->storage->data(), false, static_cast<const char*>(t.storage()->data()) + t.offset() * esize,
                  true, static_cast<std::size_t>(count) * esize);
  return Tensor(impl);
}

void* element_ptr(const Tensor& t) {
  return static_cast<char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype());
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(make_impl(shape, dtype, device, false));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return Tensor(make_impl(shape, dtype, device, true));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  CXR_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "from_vector: {} values for shape {}",
            values.size(), shape_str(shape));
  Tensor t = empty(shape, dtype);
  dispatch_float(dtype, "from_vector", [&]<class T>() { std::copy(values.begin(), values.end(), t.data<T>()); });
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  CXR_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "from_vector: {} values for shape {}",
            values.size(), shape_str(shape));
  Tensor t = empty(shape, DType::F32);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t n = dim();
  if (d < 0) d += n;
  CXR_CHECK(d >= 0 && d < n, "size({}): tensor has {} dimensions", d, n);
  return shape()[d];
}

bool Tensor::is_contiguous() const {
  return impl().strides == contiguous_strides(impl().shape);
}

std::string Tensor::str() const {
  return fmt::format("{}{} on {}", dtype_name(dtype()), shape_str(shape()), device().str());
}

void Tensor::check_dtype(DType expected) const {
  CXR_CHECK(dtype() == expected, "tensor {} accessed as {}", str(), dtype_name(expected));
}

double Tensor::at(std::int64_t i) const {
  CXR_CHECK(i >= 0 && i < numel(), "at({}): tensor {} has {} elements", i, str(), numel());
  const std::int64_t off = strided_offset(impl(), i);
  return dispatch_float(dtype(), "at", [&]<class T>() -> double {
    const T* base = static_cast<const T*>(impl().storage->data());
    if (device().is_cpu()) return static_cast<double>(base[off]);
    T value;  // one element from the GPU: waits for the queued work
    backend_for(device()).copy_bytes(&value, false, base + off, true, sizeof(T));
    return static_cast<double>(value);
  });
}

double Tensor::item() const {
  CXR_CHECK(numel() == 1, "item(): tensor {} does not hold exactly one element", str());
  return at(0);
}

std::vector<double> Tensor::to_vector() const {
  if (!device().is_cpu()) return download_view(*this).to_vector();
  std::vector<double> out(static_cast<std::size_t>(numel()));
  if (is_contiguous()) {  // one typed pass (at() finds the dtype and the offset per element)
    dispatch_float(dtype(), "to_vector", [&]<class T>() { std::copy_n(data<T>(), numel(), out.begin()); });
    return out;
  }
  for (std::int64_t i = 0; i < numel(); ++i) out[i] = at(i);
  return out;
}

Tensor Tensor::view(const Shape& new_shape) const {
  CXR_CHECK(is_contiguous(), "view: tensor {} is not contiguous (call contiguous() first)", str());
  Shape s = new_shape;
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      CXR_CHECK(infer < 0, "view: more than one -1 in {}", shape_str(new_shape));
      infer = static_cast<int>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    CXR_CHECK(known > 0 && numel() % known == 0, "view: cannot reshape {} into {}", str(), shape_str(new_shape));
    s[infer] = numel() / known;
  }
  CXR_CHECK(shape_numel(s) == numel(), "view: cannot reshape {} into {}", str(), shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = s;
  impl->strides = contiguous_strides(s);
  impl->offset = this->impl().offset;
  impl->dtype = dtype();
  return Tensor(impl);
}

Tensor Tensor::slice_rows(std::int64_t begin, std::int64_t end) const {
  CXR_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= size(0), "slice_rows({}, {}): out of range for {}",
            begin, end, str());
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->requires_grad = false;
  impl->retains_grad = false;
  impl->grad = nullptr;
  impl->grad_fn = nullptr;
  impl->shape[0] = end - begin;
  impl->offset += begin * impl->strides[0];
  return Tensor(impl);
}

Tensor Tensor::view_of_storage(std::int64_t offset, const Shape& shape) const {
  const std::int64_t capacity = static_cast<std::int64_t>(storage()->nbytes() / dtype_size(dtype()));
  CXR_CHECK(offset >= 0 && offset + shape_numel(shape) <= capacity,
            "view_of_storage: {} elements at offset {} exceed the storage ({} elements)", shape_numel(shape), offset,
            capacity);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->offset = offset;
  impl->dtype = dtype();
  return Tensor(impl);
}

Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = shape();
  impl->strides = strides();
  impl->offset = offset();
  impl->dtype = dtype();
  return Tensor(impl);
}

void Tensor::copy_(const Tensor& src) {
  CXR_CHECK(shape() == src.shape(), "copy_: source {} does not match destination {}", src.str(), str());
  const bool gpu_involved = !device().is_cpu() || !src.device().is_cpu();
  if (dtype() == src.dtype() && is_contiguous() && src.is_contiguous()) {
    const std::size_t bytes = numel() * dtype_size(dtype());
    // The GPU's backend copies to, from and within the GPU; the CPU's within the host.
    const Backend& backend = backend_for(device().is_cpu() ? src.device() : device());
    backend.copy_bytes(element_ptr(*this), !device().is_cpu(), element_ptr(src), !src.device().is_cpu(), bytes);
    return;
  }
  if (gpu_involved) {
    // Conversions and strided views go through the host: rare (tests, dtype
    // changes), never in a training step, so simplicity wins over speed.
    CXR_CHECK(device().is_cpu() || is_contiguous(), "copy_: a strided destination on {} is not supported ({} -> {})",
              device().str(), src.str(), str());
    const Tensor host_src = src.device().is_cpu() ? src : download_view(src);
    if (device().is_cpu()) {
      copy_(host_src);
    } else {
      Tensor staged = empty(shape(), dtype());
      staged.copy_(host_src);
      copy_(staged);
    }
    return;
  }
  if (is_contiguous() && src.is_contiguous()) {  // a dtype conversion: one typed pass
    dispatch_float(dtype(), "copy_", [&]<class T>() {
      dispatch_float(src.dtype(), "copy_", [&]<class S>() {
        std::transform(src.data<S>(), src.data<S>() + numel(), data<T>(), [](S v) { return static_cast<T>(v); });
      });
    });
    return;
  }
  dispatch_float(dtype(), "copy_", [&]<class T>() {
    T* base = static_cast<T*>(storage()->data());
    for (std::int64_t i = 0; i < numel(); ++i) base[strided_offset(impl(), i)] = static_cast<T>(src.at(i));
  });
}

void Tensor::fill_(double value) {
  dispatch_float(dtype(), "fill_", [&]<class T>() {
    T* base = static_cast<T*>(storage()->data());
    if (is_contiguous()) {
      kernels_for<T>(device()).fill(base + offset(), static_cast<T>(value), numel());
    } else {
      CXR_CHECK(device().is_cpu(), "fill_: tensor {} must be contiguous", str());
      for (std::int64_t i = 0; i < numel(); ++i) base[strided_offset(impl(), i)] = static_cast<T>(value);
    }
  });
}

Tensor& Tensor::set_requires_grad(bool value) {
  CXR_CHECK(is_leaf() || value, "set_requires_grad(false) on a non-leaf tensor; use detach()");
  impl().requires_grad = value;
  return *this;
}

void Tensor::retain_grad() {
  CXR_CHECK(requires_grad(), "retain_grad: tensor {} does not require grad", str());
  impl().retains_grad = true;
}

void Tensor::backward(const Tensor& grad_output) const {
  if (grad_output.defined()) {
    run_backward(*this, grad_output);
  } else {
    CXR_CHECK(numel() == 1, "backward(): tensor {} is not a scalar; pass a gradient", str());
    run_backward(*this, Tensor::ones(shape(), dtype(), device()));
  }
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  CXR_CHECK(a.shape() == b.shape(), "{}: shapes differ: {} vs {}", op, shape_str(a.shape()), shape_str(b.shape()));
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t || !t->defined()) continue;
    if (!first) {
      first = t;
    } else {
      CXR_CHECK(t->device() == first->device(), "{}: inputs are on different devices: {} and {}", op, first->str(),
                t->str());
    }
  }
}

void check_contiguous(const char* op, const Tensor& t) {
  CXR_CHECK(t.is_contiguous(), "{}: tensor {} must be contiguous (call contiguous() first)", op, t.str());
}

void check_dim(const char* op, const char* what, const Tensor& t, std::int64_t dim) {
  CXR_CHECK(t.dim() == dim, "{}: {} must have {} dimensions, got {}", op, what, dim, shape_str(t.shape()));
}

}  // namespace cxr
