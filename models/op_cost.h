// The arithmetic and memory traffic of one traced op (engine/graph_trace.h), from
// its shapes alone: the textbook count, not a measurement. One rule per op family,
// each with the sentence that says what it counts (shown beside the numbers by
// `cxr inspect --step` and the web app's step view).
//
// FLOP: a multiply-add is 2. Bytes: the compulsory traffic of the op's tensors,
// each read or written once (a kernel that re-reads a tensor moves more; one whose
// tensors stay in cache moves less). Backward counts only the gradients the sweep
// asks for: no dx for an input that does not require grad (the network's image).
#pragma once

#include "engine/graph_trace.h"

#include <string_view>
#include <vector>

namespace cxr {

struct NodeCost {
  double flops_forward = 0, flops_backward = 0;
  double bytes_forward = 0, bytes_backward = 0;
};

struct OpCostRule {
  std::string_view name;         // the family, e.g. "convolution"
  std::string_view description;  // what is counted, in one or two sentences
  bool (*matches)(std::string_view op);
  NodeCost (*cost)(const TracedNode& node);
};

// Every rule, the catch-all (elementwise) last.
const std::vector<OpCostRule>& op_cost_rules();
const OpCostRule& op_cost_rule(std::string_view op);

inline NodeCost estimate_cost(const TracedNode& node) {
  return op_cost_rule(node.op).cost(node);
}

}  // namespace cxr
