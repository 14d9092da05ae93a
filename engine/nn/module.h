// Modules: named trees of parameters (trained), buffers (running statistics) and
// submodules, in the style of torch.nn.Module.
//
// A module only *declares* its tensors (name, shape, initialisation). A
// ParameterSet then gives the whole tree one contiguous parameter buffer and one
// contiguous gradient buffer, so the optimizer is one pass over one array and a
// checkpoint is one write.
#pragma once

#include "engine/tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace cxr {

// How a parameter starts: Kaiming-normal (He et al. 2015, std = sqrt(2 / fan_in),
// for layers followed by ReLU) or a constant.
struct Init {
  enum class Kind { KaimingNormal, Constant } kind = Kind::Constant;
  double fan_in = 1;
  double value = 0;
  static Init kaiming_normal(double fan_in) { return {Kind::KaimingNormal, fan_in, 0}; }
  static Init constant(double v) { return {Kind::Constant, 1, v}; }
};

class Module {
 public:
  struct Declared {
    std::string name;  // dotted path from the root, e.g. "blocks.2.pointwise.weight"
    Tensor* slot;
    Shape shape;
    Init init;
  };

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Training mode (batch statistics, dropout) or evaluation mode, for the whole tree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // Every parameter / buffer of the tree, in declaration order, with full names.
  std::vector<Declared> parameters();
  std::vector<Declared> buffers();
  // Where the tree's parameters live (cpu when it has none); inputs go there.
  Device device();

 protected:
  void declare_parameter(std::string name, Tensor* slot, Shape shape, Init init);
  void declare_buffer(std::string name, Tensor* slot, Shape shape, double value);
  template <class M>
  M& add_module(std::string name, std::unique_ptr<M> module) {
    M& ref = *module;
    children_.push_back({std::move(name), std::move(module)});
    return ref;
  }

 private:
  void collect(const std::string& prefix, bool want_parameters, std::vector<Declared>& out);

  bool training_ = true;
  std::vector<Declared> parameters_, buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

// The flat storage behind a module tree (see above). Binding makes every declared
// slot a view into `values()` (parameters) or `buffer_values()` (buffers), and gives
// each parameter a .grad view into `grads()`; then it initialises all of them,
// drawing Kaiming weights from one Generator seeded with `seed`, in declaration order.
class ParameterSet {
 public:
  struct Entry {
    std::string name;
    Tensor tensor;  // view into the flat buffer
    std::int64_t offset;
  };

  ParameterSet(Module& root, std::uint64_t seed, DType dtype = DType::F32);

  Tensor& values() { return values_; }
  Tensor& grads() { return grads_; }
  Tensor& buffer_values() { return buffer_values_; }
  const std::vector<Entry>& parameters() const { return parameters_; }
  const std::vector<Entry>& buffers() const { return buffers_; }
  std::int64_t count() const { return values_.numel(); }  // number of scalar parameters
  void zero_grad() { grads_.zero_(); }

  // Moves the flat parameter, gradient and buffer storage to `device` (one copy
  // each). Every module slot and .grad view keeps its offset and now points into the
  // new storage, so the module and anything holding its tensors see the move;
  // tensors made from the old buffers before (an optimizer's state) do not.
  void to(Device device);
  Device device() const { return values_.device(); }

 private:
  Tensor values_, grads_, buffer_values_;
  std::vector<Entry> parameters_, buffers_;
};

}  // namespace cxr
