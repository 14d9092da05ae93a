#include "models/step_inspection.h"

#include "engine/ops.h"
#include "engine/optim/adamw.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace cxr {

namespace json = boost::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// "12.3%" of the roofline, or "-" for a kernel without arithmetic or time.
std::string share_text(const std::optional<RooflinePoint>& p) {
  return p ? fmt::format("{:.1f}%", 100 * p->share) : "-";
}

double norm_of(const Tensor& t) {
  double s = 0;
  for (const double v : t.to(Device::cpu()).to_vector()) s += v * v;
  return std::sqrt(s);
}

// A node's sampled tensors (engine/graph_trace.h); "input" only where it was kept.
json::object sampled_values(const TracedNode& n) {
  json::object values{{"index", json::value_from(n.sample_index)},
                      {"output", json::value_from(n.sample_output)},
                      {"gradient", json::value_from(n.sample_gradient)}};
  if (!n.sample_input.empty()) values["input"] = json::value_from(n.sample_input);
  return values;
}

// Per leaf of the trace: a parameter's value before the update, gradient and value
// after, in the parameters' dtype (the float64 copies hold them exactly); any other
// leaf's (the input batch) value alone.
void keep_leaf_tensors(StepInspection& step, TensorKeeper& keeper, ParameterSet& params, const Tensor& before,
                       const Tensor& grads, const Tensor& after) {
  for (std::size_t i = 0; i < step.trace.leaves().size(); ++i) {
    const Tensor leaf(step.trace.leaves()[i]);
    auto& kept = step.leaf_tensors.emplace_back();
    const auto& entries = params.parameters();
    const auto p =
        std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == step.leaf_names[i]; });
    if (p == entries.end()) {
      kept.value = keeper.keep(leaf);
      kept.gradient = kept.after = TensorKeeper::none("not a parameter: no gradient, no update");
      continue;
    }
    const auto part = [&](const Tensor& flat) {
      return flat.view_of_storage(p->offset, leaf.shape()).to(leaf.dtype());
    };
    kept.value = keeper.keep(part(before));
    kept.gradient = keeper.keep(part(grads));
    kept.after = keeper.keep(part(after));
  }
  step.bytes_kept = keeper.bytes_kept();
}

json::object kept_json(const KeptTensor& t) {
  json::object o{{"kept", t.kept()}};
  if (!t.kept()) o["reason"] = t.reason.empty() ? "not recorded (the backward sweep did not reach it)" : t.reason;
  return o;
}

}  // namespace

NodeRoofline node_roofline(const StepInspection& step, const TracedNode& node) {
  const NodeCost c = estimate_cost(node);
  return {roofline_point(step.roofline, c.flops_forward, c.bytes_forward, node.forward_seconds),
          roofline_point(step.roofline, c.flops_backward, c.bytes_backward, node.backward_seconds)};
}

StepInspection inspect_training_step(ClassifierNet& net, ParameterSet& params, const Tensor& images,
                                     const std::vector<int>& labels, const std::vector<std::string>& class_names,
                                     double lr, double weight_decay, TensorCaps keep) {
  check_dim("inspect step", "images", images, 4);
  CXR_CHECK(images.size(0) == static_cast<std::int64_t>(labels.size()) && !labels.empty(),
            "inspect step: {} images and {} labels", images.size(0), labels.size());
  StepInspection step;
  step.caps = keep;
  TensorKeeper keeper(keep);
  if (step.keeps_tensors()) step.trace.keep_whole_tensors(keeper);
  step.lr = lr;
  step.weight_decay = weight_decay;
  // The CPU's roof means nothing to GPU kernels (launch times, unsynchronised): none there.
  if (net.device().is_cpu()) step.roofline = measured_roofline();
  for (const int l : labels) {
    CXR_CHECK(l >= 0 && l < static_cast<int>(class_names.size()), "inspect step: label {} of {} classes", l,
              class_names.size());
    step.labels.push_back(class_names[static_cast<std::size_t>(l)]);
  }
  const Tensor x = images.to(net.device());
  const Tensor values_before = params.values().to(Device::cpu()).to(DType::F64).clone();

  net.train();
  params.zero_grad();
  {
    EnableGradGuard record_graph;
    GraphTraceScope scope(step.trace);
    auto t = std::chrono::steady_clock::now();
    const Tensor loss = cross_entropy(net.forward(x), labels);
    step.loss = loss.to(Device::cpu()).item();
    step.forward_seconds = seconds_since(t);
    t = std::chrono::steady_clock::now();
    loss.backward();
    step.backward_seconds = seconds_since(t);
  }
  net.eval();
  AdamW adamw(params, AdamWOptions{lr, 0.9, 0.999, 1e-8, weight_decay});
  const auto t = std::chrono::steady_clock::now();
  adamw.step();
  step.optimizer_seconds = seconds_since(t);

  const auto declared = net.parameters();
  for (const auto& leaf : step.trace.leaves()) {
    std::string name = leaf.get() == x.impl_ptr().get() ? "input" : "tensor";
    for (const auto& d : declared)
      if (d.slot->impl_ptr() == leaf) name = d.name;
    step.leaf_names.push_back(name);
  }
  const Tensor values_after = params.values().to(Device::cpu()).to(DType::F64);
  const Tensor grads = params.grads().to(Device::cpu()).to(DType::F64);
  if (step.keeps_tensors()) keep_leaf_tensors(step, keeper, params, values_before, grads, values_after);
  for (const auto& p : params.parameters()) {
    ParameterUpdate& u = step.updates.emplace_back();
    u.name = p.name;
    u.shape = p.tensor.shape();
    const Tensor before = values_before.view_of_storage(p.offset, u.shape);
    const Tensor after = values_after.view_of_storage(p.offset, u.shape);
    u.weight_norm = norm_of(before);
    u.grad_norm = norm_of(grads.view_of_storage(p.offset, u.shape));
    double d2 = 0;
    for (std::int64_t i = 0; i < before.numel(); ++i) d2 += std::pow(after.at(i) - before.at(i), 2);
    u.update_norm = std::sqrt(d2);
    u.update_ratio = u.weight_norm > 0 ? u.update_norm / u.weight_norm : 0.0;
    const std::int64_t n = before.numel(), shown = std::min(kStepShownValues, n);
    const Tensor grad = grads.view_of_storage(p.offset, u.shape);
    for (std::int64_t k = 0; k < shown; ++k) {
      const std::int64_t i = k * n / shown;
      u.shown_index.push_back(i);
      u.shown_before.push_back(before.at(i));
      u.shown_gradient.push_back(grad.at(i));
      u.shown_after.push_back(after.at(i));
    }
  }
  return step;
}

json::object to_json(const StepInspection& step) {
  json::array nodes, leaves, updates;
  json::object rules;
  for (const TracedNode& n : step.trace.nodes()) {
    json::array inputs;
    for (const TracedInput& in : n.inputs) {
      if (in.shape.empty() && in.node < 0 && in.leaf < 0) {
        inputs.push_back(nullptr);  // an undefined input (no bias)
        continue;
      }
      json::object o{{"shape", json::value_from(in.shape)}};
      if (in.node >= 0) o["node"] = in.node;
      if (in.leaf >= 0) o["leaf"] = in.leaf;
      inputs.push_back(std::move(o));
    }
    const NodeCost c = estimate_cost(n);
    const NodeRoofline roof = node_roofline(step, n);
    const OpCostRule& rule = op_cost_rule(n.op);
    rules[rule.name] = rule.description;
    nodes.push_back(
        json::object{{"id", n.id},
                     {"op", n.op},
                     {"inputs", std::move(inputs)},
                     {"shape", json::value_from(n.output_shape)},
                     {"dtype", std::string(dtype_name(n.dtype))},
                     {"device", n.device.str()},
                     {"bytes", shape_numel(n.output_shape) * static_cast<std::int64_t>(dtype_size(n.dtype))},
                     {"forward_ms", 1e3 * n.forward_seconds},
                     {"backward_ms", 1e3 * n.backward_seconds},
                     {"flops_forward", c.flops_forward},
                     {"flops_backward", c.flops_backward},
                     {"bytes_forward", c.bytes_forward},
                     {"bytes_backward", c.bytes_backward},
                     {"cost_rule", rule.name},
                     {"roofline_forward", to_json(roof.forward)},
                     {"roofline_backward", to_json(roof.backward)},
                     {"values", sampled_values(n)}});
    if (step.keeps_tensors())
      nodes.back().as_object()["whole"] = {{"output", kept_json(n.whole_output)},
                                           {"gradient", kept_json(n.whole_gradient)}};
  }
  for (std::size_t i = 0; i < step.trace.leaves().size(); ++i) {
    leaves.push_back(json::object{
        {"id", i}, {"name", step.leaf_names[i]}, {"shape", json::value_from(step.trace.leaves()[i]->shape)}});
    if (step.keeps_tensors()) {
      const auto& kept = step.leaf_tensors[i];
      leaves.back().as_object()["whole"] = {
          {"value", kept_json(kept.value)}, {"gradient", kept_json(kept.gradient)}, {"after", kept_json(kept.after)}};
    }
  }
  for (const ParameterUpdate& u : step.updates)
    updates.push_back(json::object{{"name", u.name},
                                   {"shape", json::value_from(u.shape)},
                                   {"weight_norm", u.weight_norm},
                                   {"grad_norm", u.grad_norm},
                                   {"update_norm", u.update_norm},
                                   {"update_ratio", u.update_ratio},
                                   {"values",
                                    {{"index", json::value_from(u.shown_index)},
                                     {"before", json::value_from(u.shown_before)},
                                     {"gradient", json::value_from(u.shown_gradient)},
                                     {"after", json::value_from(u.shown_after)}}}});
  json::object out{
      {"loss", step.loss},
      {"lr", step.lr},
      {"weight_decay", step.weight_decay},
      {"labels", json::value_from(step.labels)},
      {"seconds",
       {{"forward", step.forward_seconds}, {"backward", step.backward_seconds}, {"optimizer", step.optimizer_seconds}}},
      {"roofline", to_json(step.roofline)},
      {"cost_rules", std::move(rules)},
      {"nodes", std::move(nodes)},
      {"leaves", std::move(leaves)},
      {"updates", std::move(updates)}};
  if (step.keeps_tensors())
    out["whole_tensors"] = {{"max_elements", step.caps.max_elements},
                            {"max_total_bytes", step.caps.max_total_bytes},
                            {"bytes_kept", step.bytes_kept}};
  return out;
}

std::string to_dot(const StepInspection& step) {
  std::string dot = "digraph step {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  for (std::size_t i = 0; i < step.trace.leaves().size(); ++i)
    dot += fmt::format("  l{} [shape=ellipse, label=\"{}\\n[{}]\"];\n", i, step.leaf_names[i],
                       fmt::join(step.trace.leaves()[i]->shape, "x"));
  for (const TracedNode& n : step.trace.nodes()) {
    const NodeRoofline roof = node_roofline(step, n);
    dot += fmt::format("  n{} [shape=box, label=\"{}\\n[{}]\\nfwd {:.3f} ms, bwd {:.3f} ms\\nroofline {} / {}\"];\n",
                       n.id, n.op, fmt::join(n.output_shape, "x"), 1e3 * n.forward_seconds, 1e3 * n.backward_seconds,
                       share_text(roof.forward), share_text(roof.backward));
    for (const TracedInput& in : n.inputs) {
      if (in.node >= 0) dot += fmt::format("  n{} -> n{};\n", in.node, n.id);
      if (in.leaf >= 0) dot += fmt::format("  l{} -> n{};\n", in.leaf, n.id);
    }
  }
  return dot + "}\n";
}

}  // namespace cxr
