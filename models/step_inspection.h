// `cxr inspect --step`: one training step of a model on a small batch, recorded.
// The forward pass, the cross-entropy loss and the backward pass run under a
// GraphTrace (engine/graph_trace.h), then one AdamW step updates the parameters;
// the result holds every op of the graph with its shapes, times and estimated cost,
// and every parameter's update against its weight.
//
// Estimated cost of a node (the textbook count, not a measurement; x the inputs,
// y the output, n = numel(y)):
//   conv2d[_relu]   forward 2 n (C_in/groups) K K; backward twice that (dx and dW)
//   linear          forward 2 n in_features; backward twice that
//   batch_norm*     forward 4 n in training (sums, squares, normalise) or 2 n; backward 6 n
//   pools           forward numel(x); backward numel(x)
//   softmax, log_softmax, cross_entropy: 5 numel(x) each way
//   reshape         0; every other op (add, relu, dropout, mul_scalar, ...) n each way
// Bytes are the compulsory traffic of the tensors: forward reads x and writes y;
// backward reads dy, x and y and writes dx (kernels that re-read more move more).
#pragma once

#include "engine/graph_trace.h"
#include "models/classifier_net.h"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace cxr {

struct NodeCost {
  double flops_forward = 0, flops_backward = 0;
  double bytes_forward = 0, bytes_backward = 0;
};
NodeCost estimate_cost(const TracedNode& node);

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
};

// images [N, in, S, S] on any device, labels N class indices. The net is put in
// training mode for the step (batch statistics, dropout: the running statistics
// and the parameters change, as in training) and left in evaluation mode.
StepInspection inspect_training_step(ClassifierNet& net, ParameterSet& params, const Tensor& images,
                                     const std::vector<int>& labels, const std::vector<std::string>& class_names,
                                     double lr, double weight_decay);

// {"loss", "lr", "weight_decay", "labels", "seconds": {forward, backward, optimizer},
//  "nodes": [{"id", "op", "inputs": [{"node" | "leaf", "shape"}], "shape", "dtype", "device",
//             "bytes", "forward_ms", "backward_ms", "flops_forward", "flops_backward",
//             "bytes_forward", "bytes_backward"}],
//  "leaves": [{"id", "name", "shape"}], "updates": [{"name", "shape", "weight_norm",
//  "grad_norm", "update_norm", "update_ratio",
//  "values": {"index", "before", "gradient", "after"}}]}
boost::json::object to_json(const StepInspection& step);

// The graph in Graphviz DOT: leaves as ellipses ("l<i>"), ops as boxes ("n<id>")
// labelled with op, output shape and forward / backward milliseconds; edges from
// each input to the op that uses it.
std::string to_dot(const StepInspection& step);

}  // namespace cxr
