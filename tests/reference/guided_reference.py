"""Guided backpropagation and Guided Grad-CAM in PyTorch, for tests/test_explain_guided_torch.cpp.

Usage: /usr/bin/python3 guided_reference.py DIR BUNDLED_MODEL

Explains, in float64 and evaluation mode, all four classes of three CXR model files:
the two Grad-CAM parity models of gradcam_fixture (DIR/gradcam/{cxr-small,kaggle-sep},
with DIR/gradcam/inputs.safetensors) and the bundled model BUNDLED_MODEL on a seeded
smooth 128 x 128 image (its float32 weights cast up). Written from the papers
(Springenberg et al. 2015; Selvaraju et al. 2017), in the manner of pytorch-grad-cam's
GuidedBackpropReLUModel: every ReLU of the network (F.relu and nn.ReLU, which calls it)
is replaced during the pass by a function whose backward is
  grad_in = grad_out * (input > 0) * (grad_out > 0)
  guided-backprop  the guided gradient d logit_c / dx, summed over the input channels
  guided-gradcam   that times Grad-CAM at the model's last listed layer (the CAM layer:
                   weights = mean gradient, relu, bilinear upsampling, divided by the peak)
Each map is relu'd and divided by its peak. Writes DIR/gradcam/<model>_guided_reference
.safetensors with <class>/<method> maps (and "input" for the bundled model).
"""
import contextlib
import os
import sys

from safetensors_writer import load, save  # exits loudly when torch is missing

import torch
import torch.nn.functional as F

from explain_reference import activations, cam, peak_normalised
from gradcam_reference import MODELS, load_net

BUNDLED_LAYERS = ["blocks.7"]
BUNDLED_SIZE = 128
CLASSES = range(4)  # all four: Grad-CAM of a random parity net is empty for some


class GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = x.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (out,) = ctx.saved_tensors
        return grad_out * (out > 0) * (grad_out > 0)


@contextlib.contextmanager
def guided_relus():
    exact = F.relu
    F.relu = lambda x, inplace=False: GuidedReLU.apply(x)
    try:
        yield
    finally:
        F.relu = exact


def guided_gradient(net, x, c):
    x = x.clone().requires_grad_(True)
    with guided_relus():
        (g,) = torch.autograd.grad(net(x)[0, c], x)
    return g.sum(dim=1)[0]


def explain(net, x, layer, out):
    for c in CLASSES:
        A, g = activations(net, x, layer, c)
        gradcam = cam((g.mean(dim=(1, 2))[:, None, None] * A).sum(dim=0), x.shape[2:])
        guided = guided_gradient(net, x, c)
        out[f"{c}/guided-backprop"] = peak_normalised(guided)
        out[f"{c}/guided-gradcam"] = peak_normalised(guided * gradcam)


def smooth_image(size):
    torch.manual_seed(17)
    coarse = torch.randn(1, 1, size // 8, size // 8, dtype=torch.float64)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: guided_reference.py DIR BUNDLED_MODEL")
    directory = os.path.join(sys.argv[1], "gradcam")
    torch.set_num_threads(1)
    inputs, _ = load(os.path.join(directory, "inputs.safetensors"))
    for model, layers in MODELS.items():
        net = load_net(os.path.join(directory, f"{model}.safetensors")).double()
        out = {}
        explain(net, inputs[model].double(), layers[-1], out)
        save(os.path.join(directory, f"{model}_guided_reference.safetensors"), out, {"layer": layers[-1]})
    net = load_net(sys.argv[2]).double()
    x = smooth_image(BUNDLED_SIZE)
    out = {"input": x}
    explain(net, x, BUNDLED_LAYERS[-1], out)
    save(os.path.join(directory, "bundled_guided_reference.safetensors"), out, {"layer": BUNDLED_LAYERS[-1]})
    print(f"wrote the guided backprop references to {directory}")


if __name__ == "__main__":
    main()
