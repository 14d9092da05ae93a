"""PyTorch reference values for the ops of engine/ops.h, read by the op registry's TorchParity
tests (tests/ops/harness.cpp; each op's OpSpec names its cases).

Usage: /usr/bin/python3 ops_reference.py OUT_DIR

One file per case, OUT_DIR/ops/<case>.safetensors, float32 (float64 for the cases
named *_f64): the inputs (x, y, weight, bias, gamma, beta, running_mean, running_var,
labels, masks, class_weights, targets), "out" = op(inputs), a random "R" of out's shape and
dtype, and "grad.<input>" = d(sum(out * R))/d(input) for every differentiable input;
batch norm in training mode adds the updated "running_mean_after" and
"running_var_after". The op and its parameters are in the metadata ("op", "stride", ...).
Dropout is absent: its mask comes from CXR's own generator (test_elementwise checks it).
"""
import os
import sys

from safetensors_writer import save  # exits loudly when torch is missing

import torch
import torch.nn.functional as F

CASES = []


def case(name, op, inputs, differentiable, **params):
    """Registers a case: `inputs` maps names to tensors, `differentiable` names get gradients."""
    def register(fn):
        CASES.append((name, op, inputs, differentiable, params, fn))
        return fn
    return register


def randn(*shape, scale=1.0, shift=0.0, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype) * scale + shift


def run(name, op, make_inputs, differentiable, params, fn, out_dir, seed):
    torch.manual_seed(seed)
    inputs = make_inputs()
    tensors = {k: v.clone() for k, v in inputs.items()}  # as they were before the op
    live = {k: (v.clone().requires_grad_(True) if k in differentiable else v.clone())
            for k, v in inputs.items()}
    out, extra = fn(live, **params)
    R = torch.randn(out.shape, dtype=out.dtype)
    (out * R).sum().backward()
    tensors["out"] = out
    tensors["R"] = R
    for k in differentiable:
        tensors["grad." + k] = live[k].grad
    tensors.update(extra)
    save(os.path.join(out_dir, "ops", name + ".safetensors"), tensors, {"op": op, **params})


# ---- elementwise, shape, reductions ---------------------------------------------------

@case("add", "add", lambda: {"x": randn(2, 3, 5, 5), "y": randn(2, 3, 5, 5)}, ["x", "y"])
def _add(t):
    return t["x"] + t["y"], {}


@case("mul_scalar", "mul_scalar", lambda: {"x": randn(3, 7)}, ["x"], scale=-2.5)
def _mul_scalar(t, scale):
    return t["x"] * scale, {}


class GradientReversal(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by -lambd (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x, lambd):
        ctx.lambd = lambd
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * -ctx.lambd, None


def gradient_reversal(t, lambd):
    return GradientReversal.apply(t["x"], float(lambd)), {}


# lambd: torch's spelling of a parameter named lambda (a Python keyword).
case("gradient_reversal", "gradient_reversal", lambda: {"x": randn(2, 3, 5, 5)}, ["x"],
     lambd=0.75)(gradient_reversal)
case("gradient_reversal_f64", "gradient_reversal", lambda: {"x": randn(3, 7, dtype=torch.float64)}, ["x"],
     lambd=1.5)(gradient_reversal)


@case("relu", "relu", lambda: {"x": randn(2, 3, 5, 5)}, ["x"])
def _relu(t):
    return F.relu(t["x"]), {}


@case("reshape", "reshape", lambda: {"x": randn(2, 3, 4, 5)}, ["x"], shape="6,-1,2")
def _reshape(t, shape):
    return t["x"].reshape([int(s) for s in shape.split(",")]), {}


@case("flatten", "flatten", lambda: {"x": randn(2, 3, 4, 5)}, ["x"])
def _flatten(t):
    return torch.flatten(t["x"], 1), {}


@case("sum", "sum", lambda: {"x": randn(4, 33)}, ["x"])
def _sum(t):
    return t["x"].sum(), {}


@case("mean", "mean", lambda: {"x": randn(4, 33)}, ["x"])
def _mean(t):
    return t["x"].mean(), {}


# ---- convolution and linear -------------------------------------------------------------

def conv_case(name, n, c_in, hw, c_out, k, stride, padding, groups, bias):
    def make():
        d = {"x": randn(n, c_in, hw[0], hw[1]),
             "weight": randn(c_out, c_in // groups, k, k, scale=(c_in // groups * k * k) ** -0.5)}
        if bias:
            d["bias"] = randn(c_out)
        return d

    @case(name, "conv2d", make, ["x", "weight"] + (["bias"] if bias else []),
          stride=stride, padding=padding, groups=groups)
    def _conv(t, stride, padding, groups):
        return F.conv2d(t["x"], t["weight"], t.get("bias"), stride, padding, 1, groups), {}


conv_case("conv2d_standard", 2, 3, (9, 9), 8, 3, 1, 0, 1, True)
conv_case("conv2d_strided", 2, 3, (11, 10), 6, 3, 2, 0, 1, True)
conv_case("conv2d_padded", 2, 4, (7, 7), 5, 3, 1, 1, 1, False)
conv_case("conv2d_stem", 2, 1, (17, 17), 16, 3, 2, 1, 1, False)  # the net's stem: stride 2, pad 1, odd input
conv_case("conv2d_grouped", 2, 6, (8, 8), 9, 3, 1, 1, 3, True)
conv_case("conv2d_depthwise", 2, 12, (9, 9), 12, 3, 1, 1, 12, False)
conv_case("conv2d_depthwise_strided", 2, 12, (9, 9), 12, 3, 2, 1, 12, False)
conv_case("conv2d_pointwise", 2, 20, (6, 6), 24, 1, 1, 0, 1, False)


@case("conv2d_relu", "conv2d_relu",
      lambda: {"x": randn(2, 6, 9, 7), "weight": randn(6, 1, 3, 3, scale=3 ** -1), "bias": randn(6)},
      ["x", "weight", "bias"], stride=2, padding=1, groups=6)
def _conv_relu(t, stride, padding, groups):
    return F.relu(F.conv2d(t["x"], t["weight"], t["bias"], stride, padding, 1, groups)), {}


def linear_case(name, bias):
    def make():
        d = {"x": randn(5, 37), "weight": randn(11, 37, scale=37 ** -0.5)}
        if bias:
            d["bias"] = randn(11)
        return d

    @case(name, "linear", make, ["x", "weight"] + (["bias"] if bias else []))
    def _linear(t):
        return F.linear(t["x"], t["weight"], t.get("bias")), {}


linear_case("linear", True)
linear_case("linear_no_bias", False)


# ---- batch norm ---------------------------------------------------------------------------

def bn_inputs():
    return {"x": randn(3, 5, 6, 7, scale=2.0, shift=0.5), "gamma": randn(5, scale=0.3, shift=1.0),
            "beta": randn(5, scale=0.3), "running_mean": randn(5, scale=0.2),
            "running_var": torch.rand(5) + 0.5}


def batch_norm(t, training, momentum, eps):
    mean, var = t["running_mean"].clone(), t["running_var"].clone()  # updated in place when training
    out = F.batch_norm(t["x"], mean, var, t["gamma"], t["beta"], training == "1", float(momentum),
                       float(eps))
    return out, ({"running_mean_after": mean, "running_var_after": var} if training == "1" else {})


case("batch_norm2d_train", "batch_norm2d", bn_inputs, ["x", "gamma", "beta"],
     training="1", momentum="0.1", eps="1e-5")(batch_norm)
case("batch_norm2d_eval", "batch_norm2d", bn_inputs, ["x", "gamma", "beta"],
     training="0", momentum="0.1", eps="1e-5")(batch_norm)


def batch_norm_relu(t, training, momentum, eps):
    out, extra = batch_norm(t, training, momentum, eps)
    return F.relu(out), extra


case("batch_norm_relu2d_train", "batch_norm_relu2d", bn_inputs, ["x", "gamma", "beta"],
     training="1", momentum="0.1", eps="1e-5")(batch_norm_relu)
case("batch_norm_relu2d_eval", "batch_norm_relu2d", bn_inputs, ["x", "gamma", "beta"],
     training="0", momentum="0.1", eps="1e-5")(batch_norm_relu)


# ---- pooling ------------------------------------------------------------------------------

def pool_case(name, op, fn, shape, kernel, stride, padding):
    @case(name, op, lambda: {"x": randn(*shape)}, ["x"], kernel=kernel, stride=stride, padding=padding)
    def _pool(t, kernel, stride, padding):
        return fn(t["x"], kernel, stride, padding), {}


def avg_pool(x, k, s, p):
    return F.avg_pool2d(x, k, s, p, count_include_pad=True)


pool_case("max_pool2d", "max_pool2d", F.max_pool2d, (2, 3, 8, 8), 2, 2, 0)
pool_case("max_pool2d_padded", "max_pool2d", F.max_pool2d, (2, 3, 9, 9), 3, 2, 1)
pool_case("avg_pool2d", "avg_pool2d", avg_pool, (2, 3, 8, 8), 2, 2, 0)
pool_case("avg_pool2d_padded", "avg_pool2d", avg_pool, (2, 3, 9, 9), 3, 2, 1)


@case("global_avg_pool2d", "global_avg_pool2d", lambda: {"x": randn(2, 5, 7, 6)}, ["x"])
def _global_avg_pool(t):
    return t["x"].mean(dim=(2, 3)), {}


# ---- classification -------------------------------------------------------------------------

@case("softmax", "softmax", lambda: {"x": randn(4, 10, scale=3.0)}, ["x"])
def _softmax(t):
    return F.softmax(t["x"], dim=1), {}


@case("log_softmax", "log_softmax", lambda: {"x": randn(4, 10, scale=3.0)}, ["x"])
def _log_softmax(t):
    return F.log_softmax(t["x"], dim=1), {}


def ce_inputs(weighted):
    def make():
        d = {"x": randn(6, 4, scale=2.0), "labels": torch.tensor([0, 3, 1, 1, 2, 3], dtype=torch.float32)}
        if weighted:
            d["class_weights"] = torch.tensor([0.5, 1.0, 2.0, 1.5])
        return d
    return make


def cross_entropy(t):
    return F.cross_entropy(t["x"], t["labels"].long(), weight=t.get("class_weights")), {}


case("cross_entropy", "cross_entropy", ce_inputs(False), ["x"])(cross_entropy)
case("cross_entropy_weighted", "cross_entropy", ce_inputs(True), ["x"])(cross_entropy)


# Bit c of masks[i] set: class c is admissible for sample i. One, two and all five classes.
# Stored as float64, which holds every uint32 mask exactly.
SET_MASKS = [0b00001, 0b00110, 0b11111, 0b10000, 0b01010, 0b10101, 0b00100]


def set_inputs(weighted, dtype):
    def make():
        d = {"x": randn(7, 5, scale=2.0, dtype=dtype), "masks": torch.tensor(SET_MASKS, dtype=torch.float64)}
        if weighted:
            d["class_weights"] = torch.tensor([0.5, 1.0, 2.0, 1.5, 0.75], dtype=dtype)
        return d
    return make


def label_set_cross_entropy(t):
    """-log of the softmax mass on each sample's set; weighted by the mean class weight of the set."""
    z = t["x"]
    admissible = ((t["masks"].long()[:, None] >> torch.arange(z.shape[1])) & 1) == 1
    nll = -(torch.logsumexp(z.masked_fill(~admissible, float("-inf")), 1) - torch.logsumexp(z, 1))
    if "class_weights" not in t:
        return nll.mean(), {}
    w = (t["class_weights"] * admissible).sum(1) / admissible.sum(1)
    return (w * nll).sum() / w.sum(), {}


for _suffix, _dtype in (("", torch.float32), ("_f64", torch.float64)):
    case("label_set_cross_entropy" + _suffix, "label_set_cross_entropy", set_inputs(False, _dtype),
         ["x"])(label_set_cross_entropy)
    case("label_set_cross_entropy_weighted" + _suffix, "label_set_cross_entropy", set_inputs(True, _dtype),
         ["x"])(label_set_cross_entropy)


# ---- resampling -----------------------------------------------------------------------------

def resize_case(name, shape, out_h, out_w):
    @case(name, "resize_bilinear", lambda: {"x": randn(*shape)}, ["x"], out_h=out_h, out_w=out_w)
    def _resize(t, out_h, out_w):
        return F.interpolate(t["x"], size=(out_h, out_w), mode="bilinear", align_corners=False), {}


resize_case("resize_bilinear_up", (2, 3, 5, 7), 11, 13)
resize_case("resize_bilinear_down", (2, 3, 16, 12), 7, 5)
resize_case("resize_bilinear_half", (1, 2, 8, 8), 4, 4)


# ---- activations, channels, segmentation losses ---------------------------------------------

for _suffix, _dtype in (("", torch.float32), ("_f64", torch.float64)):
    case("sigmoid" + _suffix, "sigmoid", lambda d=_dtype: {"x": randn(2, 3, 5, 5, scale=4.0, dtype=d)},
         ["x"])(lambda t: (torch.sigmoid(t["x"]), {}))
    case("tanh" + _suffix, "tanh", lambda d=_dtype: {"x": randn(2, 3, 5, 5, scale=2.0, dtype=d)},
         ["x"])(lambda t: (torch.tanh(t["x"]), {}))


@case("leaky_relu", "leaky_relu", lambda: {"x": randn(2, 3, 5, 5)}, ["x"], negative_slope=0.2)
def _leaky_relu(t, negative_slope):
    return F.leaky_relu(t["x"], negative_slope), {}


@case("concat_channels", "concat_channels", lambda: {"x": randn(2, 3, 4, 5), "y": randn(2, 2, 4, 5)}, ["x", "y"])
def _concat_channels(t):
    return torch.cat([t["x"], t["y"]], dim=1), {}


@case("slice_channels", "slice_channels", lambda: {"x": randn(2, 5, 3, 4)}, ["x"], begin=1, count=3)
def _slice_channels(t, begin, count):
    return t["x"][:, begin:begin + count].contiguous(), {}


def mask_targets(dtype):
    """Hard 0/1 targets, as a segmentation mask is."""
    return (torch.rand(2, 1, 6, 7) < 0.3).to(dtype)


def soft_dice(t, smooth):
    p, g = t["x"], t["targets"]
    inter = (p * g).sum(dim=(2, 3))
    return (1 - (2 * inter + smooth) / (p.sum(dim=(2, 3)) + g.sum(dim=(2, 3)) + smooth)).mean(), {}


for _suffix, _dtype in (("", torch.float32), ("_f64", torch.float64)):
    case("binary_cross_entropy_with_logits" + _suffix, "binary_cross_entropy_with_logits",
         lambda d=_dtype: {"x": randn(2, 1, 6, 7, scale=3.0, dtype=d), "targets": mask_targets(d)},
         ["x"])(lambda t: (F.binary_cross_entropy_with_logits(t["x"], t["targets"]), {}))
    case("soft_dice_loss" + _suffix, "soft_dice_loss",
         lambda d=_dtype: {"x": torch.rand(2, 1, 6, 7, dtype=d), "targets": mask_targets(d)},
         ["x"], smooth=1.0)(soft_dice)


# ---- distillation loss ----------------------------------------------------------------------

def teacher_probabilities(dtype):
    """Rows that are distributions, as a teacher's softmax is."""
    return torch.softmax(randn(6, 4, scale=2.0, dtype=dtype), dim=1)


for _suffix, _dtype in (("", torch.float32), ("_f64", torch.float64)):
    case("soft_target_cross_entropy" + _suffix, "soft_target_cross_entropy",
         lambda d=_dtype: {"x": randn(6, 4, scale=3.0, dtype=d), "targets": teacher_probabilities(d)},
         ["x"])(lambda t: (F.cross_entropy(t["x"], t["targets"]), {}))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ops_reference.py OUT_DIR")
    torch.set_num_threads(1)
    for index, (name, op, make_inputs, differentiable, params, fn) in enumerate(CASES):
        run(name, op, make_inputs, differentiable, params, fn, sys.argv[1], seed=1000 + index)
    print(f"wrote {len(CASES)} op cases to {os.path.join(sys.argv[1], 'ops')}")


if __name__ == "__main__":
    main()
