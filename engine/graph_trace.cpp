#include "engine/graph_trace.h"

#include "base/check.h"
#include "base/priority_gate.h"

#include <algorithm>

namespace cxr {

namespace {
thread_local GraphTrace* t_trace = nullptr;

std::vector<double> values_at(const Tensor& t, const std::vector<std::int64_t>& index) {
  std::vector<double> values;
  values.reserve(index.size());
  for (const std::int64_t i : index) values.push_back(t.at(i));
  return values;
}
}  // namespace

GraphTrace::Clock::time_point GraphTrace::work_time() {
  return Clock::now() - yielded_on_this_thread();
}

GraphTrace* active_graph_trace() {
  return t_trace;
}

GraphTraceScope::GraphTraceScope(GraphTrace& trace) {
  CXR_CHECK(t_trace == nullptr, "graph trace: a trace is already active on this thread");
  CXR_CHECK(trace.nodes_.empty(), "graph trace: a trace records one scope only");
  trace.last_event_ = GraphTrace::work_time();
  t_trace = &trace;
}

GraphTraceScope::~GraphTraceScope() {
  t_trace->outputs_.clear();
  t_trace = nullptr;
}

void GraphTrace::on_record(const Node* node, const Tensor& output) {
  const auto now = work_time();
  TracedNode& n = nodes_.emplace_back();
  n.id = static_cast<std::int64_t>(nodes_.size()) - 1;
  n.op = node->op;
  n.output_shape = output.shape();
  n.dtype = output.dtype();
  n.device = output.device();
  n.forward_seconds = std::chrono::duration<double>(now - last_event_).count();
  for (const Tensor& in : node->inputs) {
    TracedInput& t = n.inputs.emplace_back();
    if (!in.defined()) continue;  // e.g. a convolution without bias
    t.shape = in.shape();
    t.requires_grad = in.requires_grad();
    const TensorImpl* impl = in.impl_ptr().get();
    if (auto it = node_of_output_.find(impl); it != node_of_output_.end()) {
      t.node = it->second;
      continue;
    }
    auto [leaf, added] = leaf_index_.try_emplace(impl, static_cast<std::int64_t>(leaves_.size()));
    if (added) leaves_.push_back(in.impl_ptr());
    t.leaf = leaf->second;
  }
  node_of_output_[output.impl_ptr().get()] = n.id;
  node_index_[node] = n.id;
  outputs_.push_back(output.impl_ptr());
  const std::int64_t numel = output.numel(), shown = std::min(kTracedValues, numel);
  for (std::int64_t k = 0; k < shown; ++k) n.sample_index.push_back(k * numel / shown);
  n.sample_output = values_at(output, n.sample_index);
  if (!node->inputs.empty() && node->inputs[0].defined() && node->inputs[0].numel() == numel)
    n.sample_input = values_at(node->inputs[0], n.sample_index);
  if (keeper_) n.whole_output = keeper_->keep(output);
  last_event_ = work_time();
}

void GraphTrace::on_backward(const Node* node, const Tensor& output_grad, double seconds) {
  const auto it = node_index_.find(node);
  if (it == node_index_.end()) return;  // recorded before the trace began
  TracedNode& n = nodes_[static_cast<std::size_t>(it->second)];
  n.backward_seconds += seconds;
  n.backward_ran = true;
  n.sample_gradient = values_at(output_grad, n.sample_index);
  if (keeper_) n.whole_gradient = keeper_->keep(output_grad);
}

}  // namespace cxr
