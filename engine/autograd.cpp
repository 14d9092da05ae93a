#include "engine/autograd.h"

#include "engine/graph_trace.h"
#include "engine/ops.h"

#include <chrono>

#include <unordered_map>
#include <unordered_set>

namespace cxr {

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() {
  return t_grad_enabled;
}

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) {
  t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_enabled = previous_;
}
EnableGradGuard::EnableGradGuard() : previous_(t_grad_enabled) {
  t_grad_enabled = true;
}
EnableGradGuard::~EnableGradGuard() {
  t_grad_enabled = previous_;
}

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& output, const char* op, std::vector<Tensor> inputs, Node::BackwardFn backward) {
  if (!t_grad_enabled) return;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  if (GraphTrace* trace = active_graph_trace()) trace->on_record(node.get(), output);
  output.impl().grad_fn = std::move(node);
  output.impl().requires_grad = true;
}

namespace {

// Post-order depth-first search over tensors that require grad; iterative, so a
// deep network cannot overflow the stack.
std::vector<TensorImpl*> topological_order(TensorImpl* root) {
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> visited;
  std::vector<std::pair<TensorImpl*, std::size_t>> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    auto& [t, next_input] = stack.back();
    Node* node = t->grad_fn.get();
    if (node && next_input < node->inputs.size()) {
      const Tensor& in = node->inputs[next_input++];
      if (in.defined() && in.requires_grad() && visited.insert(in.impl_ptr().get()).second)
        stack.emplace_back(in.impl_ptr().get(), 0);
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }
  return order;  // inputs before the tensors computed from them
}

// Adds `g` into a leaf's (or retained tensor's) .grad, in place when one exists:
// parameters' .grad are views into the model's flat gradient buffer.
void accumulate_into_grad(TensorImpl& t, const Tensor& g) {
  if (t.grad) {
    Tensor existing(t.grad);
    add_(existing, g);
  } else {
    t.grad = g.clone().impl_ptr();
  }
}

// The reverse sweep shared by run_backward and gradients. `wanted`, when given,
// limits the sweep to tensors from which a wanted tensor can be reached and
// collects the wanted gradients instead of accumulating into .grad.
void sweep(const Tensor& root, const Tensor& grad_root, const std::unordered_set<TensorImpl*>* wanted,
           std::unordered_map<TensorImpl*, Tensor>* collected) {
  CXR_CHECK(root.requires_grad(), "backward: the tensor does not require grad and has no grad_fn");
  check_same_shape("backward (seed gradient vs. tensor)", grad_root, root);
  NoGradGuard no_grad;  // closures run kernels; they must not record new graphs

  const std::vector<TensorImpl*> order = topological_order(root.impl_ptr().get());
  std::unordered_set<TensorImpl*> leads_to_wanted;  // inputs come first in `order`
  if (wanted) {
    for (TensorImpl* t : order) {
      bool needed = wanted->count(t) > 0;
      if (t->grad_fn)
        for (const Tensor& in : t->grad_fn->inputs)
          needed = needed || (in.defined() && leads_to_wanted.count(in.impl_ptr().get()) > 0);
      if (needed) leads_to_wanted.insert(t);
    }
  }

  std::unordered_map<TensorImpl*, Tensor> pending;  // gradients summed so far
  pending[root.impl_ptr().get()] = grad_root;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto found = pending.find(t);
    if (found == pending.end()) continue;  // no path from root carries a gradient here
    Tensor g = std::move(found->second);
    pending.erase(found);

    if (wanted) {
      if (wanted->count(t)) (*collected)[t] = g;
    } else if (!t->grad_fn || t->retains_grad) {
      accumulate_into_grad(*t, g);
    }
    if (!t->grad_fn || (wanted && !leads_to_wanted.count(t))) continue;

    Node& node = *t->grad_fn;
    CXR_CHECK(node.backward, "backward: the graph through '{}' was already released", node.op);
    GraphTrace* trace = active_graph_trace();
    const auto started = trace ? GraphTrace::work_time() : std::chrono::steady_clock::time_point{};
    std::vector<Tensor> input_grads = node.backward(g);
    if (trace) trace->on_backward(&node, g, std::chrono::duration<double>(GraphTrace::work_time() - started).count());
    CXR_CHECK(input_grads.size() == node.inputs.size(), "backward of '{}' returned {} gradients for {} inputs", node.op,
              input_grads.size(), node.inputs.size());
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor& in = node.inputs[i];
      if (!in.defined() || !in.requires_grad() || !input_grads[i].defined()) continue;
      if (wanted && !leads_to_wanted.count(in.impl_ptr().get())) continue;
      check_same_shape(node.op.c_str(), input_grads[i], in);
      auto [slot, inserted] = pending.try_emplace(in.impl_ptr().get(), input_grads[i]);
      if (!inserted) slot->second = add(slot->second, input_grads[i]);  // used twice: sum
    }
  }
  // Release the graph: saved activations go now, not when the outputs die.
  for (TensorImpl* t : order) {
    if (t->grad_fn) {
      t->grad_fn->backward = nullptr;
      t->grad_fn->inputs.clear();
    }
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_root) {
  sweep(root, grad_root, nullptr, nullptr);
}

std::vector<Tensor> gradients(const Tensor& root, const Tensor& grad_root, const std::vector<Tensor>& wrt) {
  std::unordered_set<TensorImpl*> wanted;
  for (const Tensor& t : wrt) {
    CXR_CHECK(t.requires_grad(), "gradients: tensor {} does not require grad", t.str());
    wanted.insert(t.impl_ptr().get());
  }
  std::unordered_map<TensorImpl*, Tensor> collected;
  sweep(root, grad_root, &wanted, &collected);
  std::vector<Tensor> out;
  for (const Tensor& t : wrt) {
    auto it = collected.find(t.impl_ptr().get());
    out.push_back(it != collected.end() ? it->second.clone() : Tensor::zeros_like(t));
  }
  return out;
}

}  // namespace cxr
