#include "models/inspection.h"

#include "engine/autograd.h"
#include "engine/ops.h"

#include <algorithm>

namespace cxr {

namespace {

// J as the root of a backward pass: the root tensor and its seed gradient.
struct Objective {
  Tensor root, seed;
};

Objective objective_of(const Tensor& logits, const Inspection& what) {
  if (what.loss) {
    Tensor loss = cross_entropy(logits, {what.target_class});
    return {loss, Tensor::ones(loss.shape(), loss.dtype(), loss.device())};
  }
  Tensor seed = Tensor::zeros(logits.shape(), logits.dtype());
  dispatch_float(seed.dtype(), "inspect", [&]<class T>() { seed.data<T>()[what.target_class] = T(1); });
  return {logits, seed.to(logits.device())};
}

// [1, C, h, w] -> [C, h, w] on the CPU.
Tensor host_maps(const Tensor& t) {
  return t.detach().to(Device::cpu()).contiguous().view({t.size(1), t.size(2), t.size(3)});
}

}  // namespace

Inspection inspect(ClassifierNet& net, ParameterSet& params, const Tensor& image, const InspectTarget& target,
                   int histogram_bins) {
  check_dim("inspect", "image", image, 4);
  CXR_CHECK(image.size(0) == 1, "inspect: expects one image, got a batch of {}", image.size(0));
  net.eval();
  const Device device = net.device();
  const Tensor x = image.to(device);

  Inspection result;
  {
    NoGradGuard no_grad;
    const Tensor logits = net.forward(x);
    const auto classes = static_cast<int>(logits.size(1));
    result.logits = logits.to(Device::cpu()).to_vector();
    result.probabilities = softmax(logits).to(Device::cpu()).to_vector();
    result.loss = target.label >= 0;
    const int predicted =
        static_cast<int>(std::max_element(result.logits.begin(), result.logits.end()) - result.logits.begin());
    result.target_class = result.loss ? target.label : target.class_index >= 0 ? target.class_index : predicted;
    CXR_CHECK(result.target_class < classes, "inspect: class {} does not exist (the model has {})", result.target_class,
              classes);
    result.objective = result.loss ? cross_entropy(logits, {result.target_class}).to(Device::cpu()).item()
                                   : result.logits[static_cast<std::size_t>(result.target_class)];
  }

  for (const std::string& layer : net.layer_names()) {
    Tensor activation;
    {
      NoGradGuard no_grad;
      activation = net.forward_until(x, layer).detach();
    }
    activation.set_requires_grad(true);
    EnableGradGuard record_graph;
    const Objective j = objective_of(net.forward_after(activation, layer), result);
    const Tensor grad = gradients(j.root, j.seed, {activation})[0];
    LayerInspection& l = result.layers.emplace_back();
    l.name = layer;
    l.shape = activation.shape();
    l.activation_maps = host_maps(activation);
    l.gradient_maps = host_maps(grad);
    l.activation = value_stats(l.activation_maps, histogram_bins);
    l.gradient = value_stats(l.gradient_maps, histogram_bins);
  }

  params.zero_grad();
  {
    EnableGradGuard record_graph;
    const Objective j = objective_of(net.forward(x), result);
    j.root.backward(j.seed);
  }
  for (const auto& p : params.parameters()) {
    ParameterInspection& out = result.parameters.emplace_back();
    out.name = p.name;
    out.shape = p.tensor.shape();
    out.value = value_stats(p.tensor, histogram_bins);
    out.gradient = value_stats(params.grads().view_of_storage(p.offset, p.tensor.shape()), histogram_bins);
  }
  return result;
}

}  // namespace cxr
