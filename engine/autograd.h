// Reverse-mode automatic differentiation, define-by-run.
//
// Every op that sees an input with requires_grad records a Node on its output:
// the inputs (graph edges) and a closure that maps the output's gradient to one
// gradient per input. backward() sorts the graph topologically and runs the
// closures from the output back to the leaves, summing (`+=`) the gradients of a
// tensor used more than once. The core knows nothing about kernels: closures call
// the same kernels as the forward ops.
#pragma once

#include "engine/tensor.h"

#include <functional>
#include <string>
#include <vector>

namespace cxr {

struct Node {
  // Given d(loss)/d(output), returns d(loss)/d(input_i) for every input; an
  // undefined Tensor where an input needs no gradient.
  using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

  std::string op;              // op name, for error messages
  std::vector<Tensor> inputs;  // graph edges
  BackwardFn backward;
};

// Whether ops record graphs on this thread (on by default).
bool grad_enabled();

// RAII scope that turns graph recording off, like torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// RAII scope that turns graph recording on (e.g. explaining inside a no-grad server).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// Records `backward` as the grad_fn of `output` (and sets output.requires_grad)
// when any_requires_grad(inputs); otherwise does nothing.
void record(Tensor& output, const char* op, std::vector<Tensor> inputs, Node::BackwardFn backward);

// Runs the reverse sweep from `root` with seed gradient `grad_root` (same shape
// as root). Leaves accumulate into .grad; retained non-leaves get .grad set.
// The graph is released afterwards (no double backward).
void run_backward(const Tensor& root, const Tensor& grad_root);

// d(sum(root * grad_root))/d(wrt_i) for each tensor in `wrt` (leaves or
// intermediates), like torch.autograd.grad: no .grad anywhere is touched and only
// the part of the graph between root and `wrt` is swept (Grad-CAM at the last block
// does not pay for a backward through the whole network). Releases the graph.
std::vector<Tensor> gradients(const Tensor& root, const Tensor& grad_root, const std::vector<Tensor>& wrt);

}  // namespace cxr
