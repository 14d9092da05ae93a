// A recording of the autograd graph as one training step builds and sweeps it, for
// `cxr inspect --step`: every recorded op (a Node) with the shapes, dtype and
// device of its tensors, the wall time of its forward op and of its backward
// closure, and which earlier node (or which leaf tensor) each input came from.
//
// Off unless a GraphTraceScope is alive on the thread: then autograd's record()
// and its reverse sweep call the trace; otherwise they test one thread-local
// pointer and go on (no allocation, no clock read).
//
// Forward time of a node: from the end of the previous recorded op (or the scope's
// start) to its own record(), which every op calls right after its kernels ran; so
// it includes any unrecorded work in between (ops under no_grad, host copies).
// Backward time: the node's backward closure alone. On a GPU both are launch times
// unless the caller synchronises; the CPU kernels are synchronous. Neither counts
// the time the thread spent yielding to urgent work (base/priority_gate.h).
//
// Every node also keeps a few of its tensors' values for a learner to look at: its
// output's at evenly spaced flat indices, its first input's at the same indices
// (when that input has as many elements: an elementwise op's before and after),
// and, when the sweep reaches it, the gradient of its output there. Reading them
// happens outside both timings. With keep_whole_tensors(), the output and its
// gradient are also kept whole, as far as the keeper's caps allow
// (engine/kept_tensor.h), outside both timings too.
#pragma once

#include "engine/autograd.h"
#include "engine/kept_tensor.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace cxr {

struct TracedInput {
  std::int64_t node = -1;  // the node that produced it; -1: a leaf
  std::int64_t leaf = -1;  // index into GraphTrace::leaves() when a leaf
  Shape shape;
  bool requires_grad = false;  // the backward sweep gives it a gradient
};

struct TracedNode {
  std::int64_t id = 0;  // recording order: inputs' nodes come first
  std::string op;
  std::vector<TracedInput> inputs;
  Shape output_shape;
  DType dtype = DType::F32;
  Device device;
  double forward_seconds = 0;
  double backward_seconds = 0;  // 0 when the sweep did not reach it
  bool backward_ran = false;
  // Flat indices i * numel / k for i < k = min(kTracedValues, numel), in order.
  std::vector<std::int64_t> sample_index;
  std::vector<double> sample_output;    // the output's values there
  std::vector<double> sample_input;     // input 0's there; empty unless numel(input 0) == numel(output)
  std::vector<double> sample_gradient;  // d root / d output there; empty until the sweep reaches it
  // Whole, with keep_whole_tensors(): the output, and d root / d output once the sweep reaches it.
  KeptTensor whole_output, whole_gradient;
};

inline constexpr std::int64_t kTracedValues = 8;  // per node: ~18 KB of JSON for cxr-small's 38 ops

class GraphTrace {
 public:
  const std::vector<TracedNode>& nodes() const { return nodes_; }
  // Leaf tensors used by the traced ops (parameters, the input batch), in first use.
  const std::vector<std::shared_ptr<TensorImpl>>& leaves() const { return leaves_; }

  // The steady clock less the time this thread has yielded (base/priority_gate.h):
  // what the trace's timings are differences of.
  static std::chrono::steady_clock::time_point work_time();

  // Keep each node's output and gradient whole in `keeper` (which must outlive the
  // recording), in the order they arise; call before the GraphTraceScope.
  void keep_whole_tensors(TensorKeeper& keeper) { keeper_ = &keeper; }

  // Called by autograd (engine/autograd.cpp) while the trace is active.
  void on_record(const Node* node, const Tensor& output);
  // output_grad: the gradient the node's backward closure was called with.
  void on_backward(const Node* node, const Tensor& output_grad, double seconds);

 private:
  friend class GraphTraceScope;
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_event_;
  TensorKeeper* keeper_ = nullptr;
  std::vector<TracedNode> nodes_;
  std::vector<std::shared_ptr<TensorImpl>> leaves_;
  // Kept alive while tracing so that no address is reused for another tensor.
  std::vector<std::shared_ptr<TensorImpl>> outputs_;
  std::unordered_map<const TensorImpl*, std::int64_t> node_of_output_, leaf_index_;
  std::unordered_map<const Node*, std::int64_t> node_index_;
};

// Traces into `trace` (a fresh one) on this thread from construction to destruction
// (not nested).
class GraphTraceScope {
 public:
  explicit GraphTraceScope(GraphTrace& trace);
  ~GraphTraceScope();
  GraphTraceScope(const GraphTraceScope&) = delete;
  GraphTraceScope& operator=(const GraphTraceScope&) = delete;
};

// The trace active on this thread, or null (for autograd).
GraphTrace* active_graph_trace();

}  // namespace cxr
