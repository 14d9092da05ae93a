// Tensor: an n-dimensional view (shape, strides in elements, offset) into a
// refcounted Storage, with a dtype, a device and autograd state.
//
// A Tensor is a cheap handle: copying it shares the same TensorImpl. Nothing is
// copied behind the user's back: kernels need contiguous inputs and say so when
// they get something else; clone(), contiguous() and to() are the explicit copies.
#pragma once

#include "base/check.h"
#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace cxr {

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::F32;

  // Autograd state.
  bool requires_grad = false;
  bool retains_grad = false;         // keep .grad on a non-leaf (Grad-CAM's feature maps)
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves, retained non-leaves)
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor, if recorded
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation -----------------------------------------------------------
  // Uninitialised: every element must be written before it is read.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu()) {
    return full(shape, 1.0, dtype, device);
  }
  // Copies values (converted to dtype) into a new contiguous CPU tensor.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::F32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

  // ---- metadata -----------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  std::int64_t dim() const { return static_cast<std::int64_t>(impl().shape.size()); }
  std::int64_t size(std::int64_t d) const;  // negative d counts from the end
  std::int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  std::int64_t offset() const { return impl().offset; }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  std::string str() const;  // "float32[2, 3] on cpu"

  // ---- data access (checks the dtype) -----------------------------------------
  template <class T>
  T* data() {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<const T*>(impl().storage->data()) + impl().offset;
  }
  // Element read as double (any layout); for tests and small reductions, not hot paths.
  // On a CUDA tensor they copy to the host first (and so wait for queued GPU work).
  double at(std::int64_t flat_index) const;
  double item() const;  // single-element tensors
  std::vector<double> to_vector() const;

  // ---- views and explicit copies ------------------------------------------------
  Tensor view(const Shape& shape) const;  // raw view, no autograd; needs contiguous; one -1 allowed
  Tensor slice_rows(std::int64_t begin, std::int64_t end) const;          // view of dim-0 range
  Tensor view_of_storage(std::int64_t offset, const Shape& shape) const;  // contiguous sub-view
  Tensor contiguous() const;                                              // self if already contiguous, else a copy
  Tensor clone() const;  // always a contiguous copy, no autograd history
  // Self when already there. To CUDA: throws a cxr::Error naming the reason when the
  // build has no CUDA backend or no GPU is visible.
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;   // self when already that dtype
  Tensor detach() const;          // shares storage, no autograd history
  void copy_(const Tensor& src);  // same shape, any dtype, any devices; no autograd
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // ---- autograd -----------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool value = true);
  Tensor grad() const { return Tensor(impl().grad); }  // undefined when none
  void set_grad(const Tensor& g) { impl().grad = g.impl_; }
  void retain_grad();  // keep the gradient of an intermediate
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  // Reverse-mode sweep from this tensor. With no argument the tensor must hold one element.
  void backward(const Tensor& grad_output = Tensor()) const;

  TensorImpl& impl() const {
    CXR_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  void check_dtype(DType expected) const;
  std::shared_ptr<TensorImpl> impl_;
};

// "op: <what> has shape [..], expected [..]" unless shapes are equal.
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
// "op: inputs are on different devices: float32[..] on cuda:0 and float32[..] on cpu";
// undefined tensors (an absent bias) are skipped.
void check_same_device(const char* op, std::initializer_list<const Tensor*> ts);
void check_contiguous(const char* op, const Tensor& t);
void check_dim(const char* op, const char* what, const Tensor& t, std::int64_t dim);

}  // namespace cxr
