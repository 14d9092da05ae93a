"""The explanation methods of models/explain/ in PyTorch, for tests/test_explain_torch.cpp.

Usage: /usr/bin/python3 explain_reference.py DIR

Reuses gradcam_reference.py's network (the same model files and inputs, written by
gradcam_fixture into DIR/gradcam) and explains, in float64 and evaluation mode, two
classes of each model (two keep the fixture fast; Score-CAM, one forward pass per
channel, on kaggle-sep only, the narrow one) with the published definitions, written here from the papers
and in the manner of pytorch-grad-cam and Captum (neither is installed; the formulas
are short):
  HiResCAM    relu(sum_k g_k * A_k)
  XGrad-CAM   w_k = sum_ij A_kij g_kij / sum_ij A_kij (0 when the sum is 0)
  LayerCAM    per layer relu(sum_k relu(g_k) * A_k), each upsampled and divided by
              its peak, averaged over the model's three listed layers
  Score-CAM   w = softmax_k(logit_c(x * minmax(upsample(A_k))))
  Eigen-CAM   X = A as [positions, channels]; v = first right singular vector of
              X - mean (torch.linalg.svd), oriented so that sum(X v) > 0; map X v
  saliency    max over channels of |d logit_c / dx|
  Input x Gradient, Integrated Gradients (8 midpoint steps from 0), occlusion
              (patch 16, stride 12, the last patch moved to the edge, filled with 0)
A CAM's coarse map is relu'd, upsampled (bilinear, align_corners=False) and divided
by its peak; a pixel attribution is relu'd and divided by its peak. Writes
DIR/gradcam/<model>_explain_reference.safetensors with <class>/<method> maps.
"""
import os
import sys

from safetensors_writer import load, save  # exits loudly when torch is missing

import torch
import torch.nn.functional as F

from gradcam_reference import MODELS, load_net

IG_STEPS = 8
PATCH, STRIDE = 16, 12
CLASSES = (0, 3)
SCORECAM_MODELS = ("kaggle-sep",)  # one masked forward per channel: the narrow net only


def peak_normalised(m):
    m = F.relu(m)
    peak = m.max()
    return m / peak if peak > 0 else m


def upsample(coarse, size):
    return F.interpolate(coarse[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


def activations(net, x, layer, c):
    saved = {}
    handle = net.layer(layer).register_forward_hook(lambda module, inputs, output: saved.update(A=output))
    logit = net(x)[0, c]
    handle.remove()
    (g,) = torch.autograd.grad(logit, saved["A"])
    return saved["A"][0].detach(), g[0]


def cam(coarse, size):
    return peak_normalised(upsample(F.relu(coarse), size))


def pixel_grad(net, x, c):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(x)[0, c], x)
    return g


def offsets(length):
    o = list(range(0, length - PATCH + 1, STRIDE))
    if o[-1] + PATCH < length:
        o.append(length - PATCH)
    return o


def explain_all(net, x, layers, c, out, scorecam):
    size = x.shape[2:]
    A, g = activations(net, x, layers[-1], c)
    out[f"{c}/hirescam"] = cam((g * A).sum(dim=0), size)
    sums = A.sum(dim=(1, 2))
    w = torch.where(sums != 0, (A * g).sum(dim=(1, 2)) / torch.where(sums != 0, sums, torch.ones_like(sums)),
                    torch.zeros_like(sums))
    out[f"{c}/xgradcam"] = cam((w[:, None, None] * A).sum(dim=0), size)

    fused = torch.zeros(size, dtype=x.dtype)
    for layer in layers:
        Al, gl = activations(net, x, layer, c)
        fused += cam((F.relu(gl) * Al).sum(dim=0), size) / len(layers)
    out[f"{c}/layercam"] = peak_normalised(fused)

    with torch.no_grad():
        masks = []
        for k in range(A.shape[0] if scorecam else 0):
            m = upsample(A[k], size)
            lo, hi = m.min(), m.max()
            masks.append((m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m))
        if scorecam:
            w = torch.softmax(net(x * torch.stack(masks)[:, None])[:, c], dim=0)
            out[f"{c}/scorecam"] = cam((w[:, None, None] * A).sum(dim=0), size)

        X = A.reshape(A.shape[0], -1).T
        _, _, vh = torch.linalg.svd(X - X.mean(dim=0), full_matrices=False)
        v = vh[0]
        if (X @ v).sum() < 0:
            v = -v
        out[f"{c}/eigencam"] = cam((X @ v).reshape(A.shape[1:]), size)

    gx = pixel_grad(net, x, c)
    out[f"{c}/saliency"] = peak_normalised(gx.abs().amax(dim=1)[0])
    out[f"{c}/inputxgrad"] = peak_normalised((x * gx).sum(dim=1)[0])
    mean_grad = sum(pixel_grad(net, (k + 0.5) / IG_STEPS * x, c) for k in range(IG_STEPS)) / IG_STEPS
    out[f"{c}/integrated-gradients"] = peak_normalised((x * mean_grad).sum(dim=1)[0])

    with torch.no_grad():
        full = net(x)[0, c]
        total = torch.zeros(size, dtype=x.dtype)
        count = torch.zeros(size, dtype=x.dtype)
        corners = [(y0, x0) for y0 in offsets(size[0]) for x0 in offsets(size[1])]
        occluded = x.repeat(len(corners), 1, 1, 1)
        for i, (y0, x0) in enumerate(corners):
            occluded[i, :, y0:y0 + PATCH, x0:x0 + PATCH] = 0
        scores = net(occluded)[:, c]
        for i, (y0, x0) in enumerate(corners):
            total[y0:y0 + PATCH, x0:x0 + PATCH] += full - scores[i]
            count[y0:y0 + PATCH, x0:x0 + PATCH] += 1
        out[f"{c}/occlusion"] = peak_normalised(total / count)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: explain_reference.py DIR")
    directory = os.path.join(sys.argv[1], "gradcam")
    torch.set_num_threads(1)
    inputs, _ = load(os.path.join(directory, "inputs.safetensors"))
    for model, layers in MODELS.items():
        net = load_net(os.path.join(directory, f"{model}.safetensors")).double()
        x = inputs[model].double()
        out = {}
        for c in CLASSES:
            explain_all(net, x, layers, c, out, model in SCORECAM_MODELS)
        save(os.path.join(directory, f"{model}_explain_reference.safetensors"), out, {"layers": ",".join(layers)})
    print(f"wrote the explanation references to {directory}")


if __name__ == "__main__":
    main()
