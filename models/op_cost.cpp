#include "models/op_cost.h"

namespace cxr {

namespace {

// Shape legend: n = numel(y), x = input 0, w = input 1, b = input 2, e = bytes per element.
struct Sizes {
  double n = 0, e = 0;
  std::vector<double> in;  // numel of each input (0 when undefined)
  std::vector<bool> grad;  // the backward computes its gradient
};

Sizes sizes_of(const TracedNode& node) {
  Sizes s;
  s.n = static_cast<double>(shape_numel(node.output_shape));
  s.e = static_cast<double>(dtype_size(node.dtype));
  for (const TracedInput& t : node.inputs) {
    const bool defined = t.node >= 0 || t.leaf >= 0;
    s.in.push_back(defined ? static_cast<double>(shape_numel(t.shape)) : 0.0);
    s.grad.push_back(defined && t.requires_grad);
  }
  s.in.resize(3, 0.0);
  s.grad.resize(3, false);
  return s;
}

double sum_of_inputs(const Sizes& s) {
  double total = 0;
  for (const double v : s.in) total += v;
  return total;
}

// Read every input, write the output.
double plain_forward_bytes(const Sizes& s) {
  return (sum_of_inputs(s) + s.n) * s.e;
}

// conv2d and linear share the structure y = x W (+ b): `macs` multiply-adds forward,
// as many again for dx and for dW.
NodeCost weighted_cost(const Sizes& s, double macs, bool relu) {
  NodeCost c;
  c.flops_forward = 2 * macs;
  c.flops_backward = 2 * macs * (static_cast<double>(s.grad[0]) + static_cast<double>(s.grad[1]));
  c.bytes_forward = plain_forward_bytes(s);
  double backward = s.n + (relu ? s.n : 0);      // dy, and y for the ReLU mask
  if (s.grad[0]) backward += s.in[1] + s.in[0];  // dx = dy W: reads W, writes dx
  if (s.grad[1]) backward += s.in[0] + s.in[1];  // dW = dy x: reads x, writes dW
  if (s.grad[2]) backward += s.in[2];            // db
  c.bytes_backward = backward * s.e;
  return c;
}

NodeCost convolution(const TracedNode& node) {
  const Sizes s = sizes_of(node);
  const Shape& w = node.inputs.at(1).shape;  // [C_out, C_in / groups, K, K]
  return weighted_cost(s, s.n * static_cast<double>(w.at(1) * w.at(2) * w.at(3)), node.op == "conv2d_relu");
}

NodeCost fully_connected(const TracedNode& node) {
  const Sizes s = sizes_of(node);
  return weighted_cost(s, s.n * static_cast<double>(node.inputs.at(1).shape.at(1)), false);
}

NodeCost batch_norm(const TracedNode& node) {
  const Sizes s = sizes_of(node);
  const bool relu = node.op == "batch_norm_relu2d";
  const double channels = s.in[1];
  NodeCost c;
  c.flops_forward = (5 + (relu ? 1 : 0)) * s.n;
  c.flops_backward = (11 + (relu ? 1 : 0)) * s.n;
  c.bytes_forward = plain_forward_bytes(s);
  // Reads dy, x, gamma (and y for the mask); writes dx, dgamma, dbeta.
  c.bytes_backward = (s.n + s.in[0] + channels + (relu ? s.n : 0) + (s.grad[0] ? s.in[0] : 0) + 2 * channels) * s.e;
  return c;
}

NodeCost pooling(const TracedNode& node) {
  const Sizes s = sizes_of(node);
  NodeCost c;
  c.flops_forward = c.flops_backward = s.in[0];
  c.bytes_forward = plain_forward_bytes(s);
  c.bytes_backward = (s.n + s.in[0] + (node.op == "max_pool2d" ? s.in[0] : 0)) * s.e;
  return c;
}

NodeCost softmax_family(const TracedNode& node) {
  const Sizes s = sizes_of(node);
  NodeCost c;
  c.flops_forward = c.flops_backward = 5 * s.in[0];
  c.bytes_forward = plain_forward_bytes(s);
  c.bytes_backward = (s.n + 2 * s.in[0]) * s.e;  // dy, x (or y); writes dx
  return c;
}

NodeCost view(const TracedNode&) {
  return {};
}

NodeCost elementwise(const TracedNode& node) {
  const Sizes s = sizes_of(node);
  NodeCost c;
  c.flops_forward = c.flops_backward = s.n;
  c.bytes_forward = plain_forward_bytes(s);
  double backward = s.n + sum_of_inputs(s);  // dy and the saved inputs
  for (std::size_t i = 0; i < s.in.size(); ++i)
    if (s.grad[i]) backward += s.in[i];
  c.bytes_backward = backward * s.e;
  return c;
}

bool contains(std::string_view op, std::string_view part) {
  return op.find(part) != std::string_view::npos;
}

}  // namespace

const std::vector<OpCostRule>& op_cost_rules() {
  static const std::vector<OpCostRule> rules{
      {"convolution",
       "conv2d[_relu]: 2 N C_out H_out W_out (C_in/groups) K^2 FLOP forward (bias and ReLU not counted), the same "
       "again for dx and for dW; bytes: x, W, b read and y written, backward dy (and y for the ReLU) plus W and dx "
       "for dx, x and dW for dW",
       [](std::string_view op) { return op == "conv2d" || op == "conv2d_relu"; }, convolution},
      {"fully connected",
       "linear: 2 N in out FLOP forward, the same again for dx and for dW; bytes as for a convolution",
       [](std::string_view op) { return op == "linear"; }, fully_connected},
      {"batch norm",
       "batch_norm[_relu]2d in training: 5 FLOP per value forward (sum, sum of squares, y = x s + t), 11 backward "
       "(two sums over dy and dy x_hat, then dx), 1 more each way for the fused ReLU; bytes: x, gamma, beta read, y "
       "written; backward dy, x, gamma (and y) read, dx, dgamma, dbeta written",
       [](std::string_view op) { return op.starts_with("batch_norm"); }, batch_norm},
      {"pooling",
       "pools: 1 FLOP per input value each way; bytes: x read, y written; backward dy read, dx written (and x "
       "re-read by max pooling)",
       [](std::string_view op) { return contains(op, "pool"); }, pooling},
      {"softmax",
       "softmax, log_softmax, cross entropy: 5 FLOP per input value each way (max, subtract, exp, sum, log or "
       "divide); bytes: x read, y written; backward dy and x read, dx written",
       [](std::string_view op) { return op == "softmax" || op == "log_softmax" || contains(op, "cross_entropy"); },
       softmax_family},
      {"view", "reshape: a view, no arithmetic and no traffic", [](std::string_view op) { return op == "reshape"; },
       view},
      {"elementwise",
       "every other op (add, relu, dropout, mul_scalar, ...): 1 FLOP per output value each way; bytes: inputs "
       "read, y written; backward dy and the inputs read, each needed gradient written",
       [](std::string_view) { return true; }, elementwise},
  };
  return rules;
}

const OpCostRule& op_cost_rule(std::string_view op) {
  for (const OpCostRule& rule : op_cost_rules())
    if (rule.matches(op)) return rule;
  return op_cost_rules().back();  // unreachable: the last rule matches every op
}

}  // namespace cxr
