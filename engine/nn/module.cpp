#include "engine/nn/module.h"

#include "engine/random.h"

namespace cxr {

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::declare_parameter(std::string name, Tensor* slot, Shape shape, Init init) {
  parameters_.push_back({std::move(name), slot, std::move(shape), init});
}

void Module::declare_buffer(std::string name, Tensor* slot, Shape shape, double value) {
  buffers_.push_back({std::move(name), slot, std::move(shape), Init::constant(value)});
}

void Module::collect(const std::string& prefix, bool want_parameters, std::vector<Declared>& out) {
  for (const auto& d : want_parameters ? parameters_ : buffers_) {
    Declared full = d;
    full.name = prefix + d.name;
    out.push_back(std::move(full));
  }
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", want_parameters, out);
}

std::vector<Module::Declared> Module::parameters() {
  std::vector<Declared> out;
  collect("", true, out);
  return out;
}

std::vector<Module::Declared> Module::buffers() {
  std::vector<Declared> out;
  collect("", false, out);
  return out;
}

Device Module::device() {
  const auto declared = parameters();
  return declared.empty() ? Device::cpu() : declared.front().slot->device();
}

namespace {

// Tensors start on 16-element boundaries (64 bytes in float32): aligned vector loads.
constexpr std::int64_t kAlign = 16;
std::int64_t align_up(std::int64_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

std::vector<ParameterSet::Entry> bind(std::vector<Module::Declared> declared, Tensor& flat, DType dtype) {
  std::int64_t total = 0;
  for (const auto& d : declared) total = align_up(total) + shape_numel(d.shape);
  flat = Tensor::zeros({align_up(total)}, dtype);
  std::vector<ParameterSet::Entry> entries;
  std::int64_t offset = 0;
  for (const auto& d : declared) {
    offset = align_up(offset);
    *d.slot = flat.view_of_storage(offset, d.shape);
    entries.push_back({d.name, *d.slot, offset});
    offset += shape_numel(d.shape);
  }
  return entries;
}

void initialise(Tensor& t, const Init& init, Generator& gen) {
  if (init.kind == Init::Kind::Constant) {
    t.fill_(init.value);
    return;
  }
  const double std = std::sqrt(2.0 / init.fan_in);
  dispatch_float(t.dtype(), "initialise", [&]<class T>() {
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(std * gen.normal());
  });
}

}  // namespace

ParameterSet::ParameterSet(Module& root, std::uint64_t seed, DType dtype) {
  const auto declared_params = root.parameters();
  const auto declared_buffers = root.buffers();
  parameters_ = bind(declared_params, values_, dtype);
  grads_ = Tensor::zeros(values_.shape(), dtype);
  buffers_ = bind(declared_buffers, buffer_values_, dtype);

  Generator gen(seed);
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = *declared_params[i].slot;
    initialise(p, declared_params[i].init, gen);
    p.set_grad(grads_.view_of_storage(parameters_[i].offset, p.shape()));
    p.set_requires_grad(true);
    parameters_[i].tensor = p;
  }
  for (std::size_t i = 0; i < buffers_.size(); ++i)
    initialise(*declared_buffers[i].slot, declared_buffers[i].init, gen);
}

void ParameterSet::to(Device device) {
  if (device == values_.device()) return;
  values_ = values_.to(device);
  grads_ = grads_.to(device);
  buffer_values_ = buffer_values_.to(device);
  // The views share their TensorImpl with the module's slots: repointing the
  // storage moves the slot too, at the same offset.
  for (auto& p : parameters_) {
    p.tensor.impl().storage = values_.storage();
    if (p.tensor.impl().grad) p.tensor.impl().grad->storage = grads_.storage();
  }
  for (auto& b : buffers_) b.tensor.impl().storage = buffer_values_.storage();
}

}  // namespace cxr
