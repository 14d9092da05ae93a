// `cxr inspect --step`: one training step of a model on a small batch, recorded.
// The forward pass, the cross-entropy loss and the backward pass run under a
// GraphTrace (engine/graph_trace.h), then one AdamW step updates the parameters;
// the result holds every op of the graph with its shapes, times and estimated cost,
// and every parameter's update against its weight.
//
// Each node's estimated cost (models/op_cost.h: FLOPs and bytes from its shapes)
// is set against the roofline measured on the step's kernel threads
// (models/roofline.h): intensity, attainable FLOP/s and the share of it reached.
//
// Asked to (a TensorCaps), the step also keeps its tensors whole for the web view
// (engine/kept_tensor.h): every op's output and output gradient as they arise, then
// every leaf's value before the update and, for parameters, its gradient and its
// value after the update; a tensor over a cap is reported with the reason instead.
#pragma once

#include "engine/graph_trace.h"
#include "models/classifier_net.h"
#include "models/op_cost.h"
#include "models/roofline.h"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace cxr {

struct ParameterUpdate {
  std::string name;
  Shape shape;
  double weight_norm = 0;  // before the update
  double grad_norm = 0;
  double update_norm = 0;   // ||w_after - w_before||
  double update_ratio = 0;  // update_norm / weight_norm (0 when the weight is 0)
  // A few of its values for the web view, before and after the step: flat indices
  // i * numel / k for i < k = min(kStepShownValues, numel), in order.
  std::vector<std::int64_t> shown_index;
  std::vector<double> shown_before, shown_gradient, shown_after;
};

inline constexpr std::int64_t kStepShownValues = 8;  // per parameter: about 31 KB of JSON for cxr-small

struct StepInspection {
  GraphTrace trace;
  std::vector<std::string> leaf_names;  // per trace leaf: the parameter's name, or "input"
  std::vector<std::string> labels;      // the batch's class names
  double loss = 0;
  double lr = 0, weight_decay = 0;
  double forward_seconds = 0, backward_seconds = 0, optimizer_seconds = 0;
  std::vector<ParameterUpdate> updates;
  Roofline roofline;  // of the threads the step's kernels ran on; zeros on a GPU
  // Whole tensors, when asked for (caps.max_total_bytes > 0): per trace leaf its value
  // before the update and, for a parameter, its gradient and its value after.
  struct LeafTensors {
    KeptTensor value, gradient, after;
  };
  std::vector<LeafTensors> leaf_tensors;
  TensorCaps caps;
  std::int64_t bytes_kept = 0;
  bool keeps_tensors() const { return caps.max_total_bytes > 0; }
};

// A node's forward and backward kernels under the step's roofline.
struct NodeRoofline {
  std::optional<RooflinePoint> forward, backward;
};
NodeRoofline node_roofline(const StepInspection& step, const TracedNode& node);

// images [N, in, S, S] on any device, labels N class indices. The net is put in
// training mode for the step (batch statistics, dropout: the running statistics
// and the parameters change, as in training) and left in evaluation mode. The
// roofline is measured_roofline() (measured on the first step of the process) on
// the CPU, all zeros (no node placed) on a GPU. keep: the caps on the whole
// tensors kept (none by default).
StepInspection inspect_training_step(ClassifierNet& net, ParameterSet& params, const Tensor& images,
                                     const std::vector<int>& labels, const std::vector<std::string>& class_names,
                                     double lr, double weight_decay, TensorCaps keep = {});

// {"loss", "lr", "weight_decay", "labels", "seconds": {forward, backward, optimizer},
//  "nodes": [{"id", "op", "inputs": [{"node" | "leaf", "shape"}], "shape", "dtype", "device",
//             "bytes", "forward_ms", "backward_ms", "flops_forward", "flops_backward",
//             "bytes_forward", "bytes_backward", "cost_rule",
//             "roofline_forward", "roofline_backward": point or null (models/roofline.h),
//             "values": {"index", "output", "input" (when kept), "gradient"} (engine/graph_trace.h),
//             "whole": {"output", "gradient": kept}}],
//  "roofline": {"peak_flops", "bandwidth", "threads", "isa", "ridge_intensity"},
//  "cost_rules": {rule name: what it counts},
//  "leaves": [{"id", "name", "shape", "whole": {"value", "gradient", "after": kept}}],
//  "updates": [{"name", "shape", "weight_norm", "grad_norm", "update_norm", "update_ratio",
//  "values": {"index", "before", "gradient", "after"}}],
//  "whole_tensors": {"max_elements", "max_total_bytes", "bytes_kept"}}
// where kept = {"kept": true} or {"kept": false, "reason"}; "whole" and
// "whole_tensors" only when the step kept whole tensors.
boost::json::object to_json(const StepInspection& step);

// The graph in Graphviz DOT: leaves as ellipses ("l<i>"), ops as boxes ("n<id>")
// labelled with op, output shape, forward / backward milliseconds and the share of
// the roofline each reached; edges from
// each input to the op that uses it.
std::string to_dot(const StepInspection& step);

}  // namespace cxr
