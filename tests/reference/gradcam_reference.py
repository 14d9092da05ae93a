"""Grad-CAM and Grad-CAM++ in PyTorch, for tests/test_gradcam_torch.cpp.

Usage: /usr/bin/python3 gradcam_reference.py DIR

Reads the CXR model files DIR/gradcam/{cxr-small,kaggle-sep}.safetensors and
DIR/gradcam/inputs.safetensors written by gradcam_fixture (tests/reference/
gradcam_fixture.cpp). Each network is rebuilt from the "config" JSON in the model
file's metadata, with the parameter names of models/depthwise_net.h, and loads the
file's tensors. A forward hook on the explained layer (the stem's ReLU, or a block)
keeps its output A; torch.autograd.grad gives g = d(logit of class c)/dA. Then, as
in Selvaraju et al. 2017 and Chattopadhay et al. 2018 (and pytorch-grad-cam, without
its epsilon):
  Grad-CAM    weight_k = mean_ij g_kij
  Grad-CAM++  alpha_kij = g^2 / (2 g^2 + sum_ab A_kab g_kij^3)  (0 where the
              denominator is 0), weight_k = sum_ij alpha_kij relu(g_kij)
  map = relu(sum_k weight_k A_k), bilinearly upsampled to the input
  (align_corners=False) and divided by its maximum when that is positive.
Everything is computed twice, in float32 and in float64 (the float32 weights cast
up), in evaluation mode. Writes DIR/gradcam/<model>_reference.safetensors with,
for dtype in f32/f64: <dtype>/logits, and per layer L and class c:
<dtype>/<L>/features, <dtype>/<L>/<c>/grad, <dtype>/<L>/<c>/<method>/{coarse,map}.
"""
import json
import os
import sys

from safetensors_writer import load, save  # exits loudly when torch is missing

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = {"cxr-small": ["stem", "blocks.4", "blocks.7"],
          "kaggle-sep": ["blocks.3", "blocks.11", "blocks.12"]}
METHODS = ["gradcam", "gradcam++"]


def batch_norm(channels):
    return nn.BatchNorm2d(channels, momentum=0.1, eps=1e-5)


class Separable(nn.Module):
    def __init__(self, c_in, c_out, stride, bn):
        super().__init__()
        self.has_bn = bn
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        if bn:
            self.bn1 = batch_norm(c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=not bn)
        if bn:
            self.bn2 = batch_norm(c_out)

    def forward(self, x):
        if not self.has_bn:  # Keras SeparableConv2D: no activation between the two
            return F.relu(self.pointwise(self.depthwise(x)))
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class Conv(nn.Module):
    def __init__(self, c_in, c_out, stride, bn):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not bn)
        self.bn = batch_norm(c_out) if bn else nn.Identity()

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        stem_bn = cfg["stem_batch_norm"]
        self.stem_conv = nn.Conv2d(cfg["in_channels"], cfg["stem_channels"], 3, cfg["stem_stride"], 1,
                                   bias=not stem_bn)
        self.stem_bn = batch_norm(cfg["stem_channels"]) if stem_bn else nn.Identity()
        self.stem_relu = nn.ReLU()
        blocks, channels = [], cfg["stem_channels"]
        for b in cfg["blocks"]:
            if b["kind"] == "max_pool":
                blocks.append(nn.MaxPool2d(2, 2))
                continue
            make = Separable if b["kind"] == "separable" else Conv
            blocks.append(make(channels, b["out_channels"], b["stride"], b["batch_norm"]))
            channels = b["out_channels"]
        self.blocks = nn.ModuleList(blocks)
        self.hidden = nn.Linear(channels, cfg["hidden_units"]) if cfg["hidden_units"] > 0 else None
        if self.hidden is not None:
            channels = cfg["hidden_units"]
        self.dropout = nn.Dropout(cfg["dropout"])
        self.classifier = nn.Linear(channels, cfg["num_classes"])

    def forward(self, x):
        x = self.stem_relu(self.stem_bn(self.stem_conv(x)))
        for block in self.blocks:
            x = block(x)
        x = x.mean(dim=(2, 3))
        if self.hidden is not None:
            x = F.relu(self.hidden(x))
        return self.classifier(self.dropout(x))

    def layer(self, name):
        return self.stem_relu if name == "stem" else self.blocks[int(name.split(".")[1])]


def load_net(path):
    tensors, metadata = load(path)
    assert metadata.get("format") == "cxr-model", f"{path} is not a CXR model file"
    net = Net(json.loads(metadata["config"]))
    missing, unexpected = net.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"FATAL: {path}: missing {missing}, unexpected {unexpected}")
    return net.eval()


def channel_weights(A, g, method):
    if method == "gradcam":
        return g.mean(dim=(1, 2))
    g2 = g * g
    g3 = g2 * g
    denom = 2 * g2 + A.sum(dim=(1, 2))[:, None, None] * g3
    alpha = torch.where(denom != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)),
                        torch.zeros_like(denom))
    return (alpha * F.relu(g)).sum(dim=(1, 2))


def explain(net, x, layer, out, prefix):
    saved = {}
    handle = net.layer(layer).register_forward_hook(lambda module, inputs, output: saved.update(A=output))
    logits = net(x)
    handle.remove()
    A = saved["A"][0]
    out[f"{prefix}/{layer}/features"] = A.detach()
    for c in range(logits.shape[1]):
        (g,) = torch.autograd.grad(logits[0, c], saved["A"], retain_graph=True)
        g = g[0]
        out[f"{prefix}/{layer}/{c}/grad"] = g
        for method in METHODS:
            w = channel_weights(A.detach(), g, method)
            coarse = F.relu((w[:, None, None] * A.detach()).sum(dim=0))
            up = F.interpolate(coarse[None, None], size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
            peak = up.max()
            if peak > 0:
                up = up / peak
            out[f"{prefix}/{layer}/{c}/{method}/coarse"] = coarse
            out[f"{prefix}/{layer}/{c}/{method}/map"] = up
    return logits.detach()[0]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gradcam_reference.py DIR")
    directory = os.path.join(sys.argv[1], "gradcam")
    torch.set_num_threads(1)
    inputs, _ = load(os.path.join(directory, "inputs.safetensors"))
    for model, layers in MODELS.items():
        net32 = load_net(os.path.join(directory, f"{model}.safetensors"))
        net64 = load_net(os.path.join(directory, f"{model}.safetensors")).double()
        out = {}
        for prefix, net, x in (("f32", net32, inputs[model].float()), ("f64", net64, inputs[model].double())):
            for layer in layers:
                out[f"{prefix}/logits"] = explain(net, x, layer, out, prefix)
        save(os.path.join(directory, f"{model}_reference.safetensors"), out, {"layers": ",".join(layers)})
    print(f"wrote the Grad-CAM references to {directory}")


if __name__ == "__main__":
    main()
