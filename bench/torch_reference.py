#!/usr/bin/env python3
"""The reference net of CXR's benchmarks in PyTorch, timed the same way as bench_train.

Same net as models/depthwise_net.cpp (cxr_small): stem conv 3x3 s2 (1->32) + BN + ReLU;
depthwise-separable blocks 64/1, 128/2, 128/1, 256/2, 256/1, 512/2, 512/1, 512/1;
global average pool, dropout 0.3, linear 512->4. Training step: forward, cross-entropy,
backward, AdamW. Inference: eval mode under no_grad.

One-image predict + Grad-CAM (as `cxr explain` and bench_cuda_train do it): the
features up to the last block without a graph, then the head with a graph, the gradient
of the top logit with respect to those features, channel weights = mean gradient,
ReLU(sum_k w_k A_k), bilinear upsampling to the input size, division by the peak, and
the map copied to the host. Its median over --cam-iters calls is reported in ms.

Prints one JSON line: {"train_images_per_s": .., "infer_images_per_s": ..,
"predict_gradcam_ms": .., ...}. Run with Debian's /usr/bin/python3 (torch 1.13, CPU)
here, or with a CUDA torch 2.x on a GPU machine (--device cuda: cuDNN with
cudnn.benchmark on; FP32 unless --tf32, since torch's default runs convolutions in TF32
on Ampere and later, and CXR's training is compared in FP32).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1)]


class SeparableBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class ReferenceNet(nn.Module):
    def __init__(self, classes=4, dropout=0.3):
        super().__init__()
        self.stem_conv = nn.Conv2d(1, 32, 3, 2, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(32)
        blocks, cin = [], 32
        for cout, stride in BLOCKS:
            blocks.append(SeparableBlock(cin, cout, stride))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(cin, classes)

    def features(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        for block in self.blocks:
            x = block(x)
        return x

    def head(self, features):
        return self.classifier(self.dropout(features.mean(dim=(2, 3))))

    def forward(self, x):
        return self.head(self.features(x))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_loop(fn, device, warmup, seconds, min_iters):
    for _ in range(warmup):
        fn()
    sync(device)
    iters, start = 0, time.perf_counter()
    while iters < min_iters or time.perf_counter() - start < seconds:
        fn()
        iters += 1
    sync(device)
    return (time.perf_counter() - start) / iters


def predict_gradcam(net, image):
    """Probabilities and the [H, W] Grad-CAM map of the top class, on the host."""
    with torch.no_grad():
        features = net.features(image)
    features.requires_grad_(True)
    logits = net.head(features)
    top = int(logits.argmax(dim=1))
    (grad,) = torch.autograd.grad(logits[0, top], features)
    with torch.no_grad():
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * features).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=image.shape[2:], mode="bilinear", align_corners=False)[0, 0]
        peak = cam.max()
        cam = cam / peak if peak > 0 else cam
        return torch.softmax(logits, dim=1).cpu(), cam.cpu()


def median_ms(fn, device, warmup, iters):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()  # ends with a copy to the host: the GPU work is done when it returns
        sync(device)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per measurement")
    ap.add_argument("--min-iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cam-iters", type=int, default=20, help="timed one-image predict + Grad-CAM calls")
    ap.add_argument("--tf32", action="store_true", help="let cuDNN and cuBLAS use TF32 (torch's default)")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gpu = None
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        gpu = torch.cuda.get_device_name(device)
    net = ReferenceNet().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    x = torch.randn(args.batch, 1, args.size, args.size, device=device)
    y = torch.randint(0, 4, (args.batch,), device=device)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            net(x)

    net.train()
    t_train = time_loop(train_step, device, args.warmup, args.seconds, args.min_iters)
    net.eval()
    t_infer = time_loop(infer, device, args.warmup, args.seconds, args.min_iters)
    image = torch.randn(1, 1, args.size, args.size, device=device)
    cam_ms = median_ms(lambda: predict_gradcam(net, image), device, args.warmup + 3, args.cam_iters)
    print(json.dumps({
        "torch_version": torch.__version__,
        "device": str(device),
        "gpu": gpu,
        "cudnn_version": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "cudnn_benchmark": device.type == "cuda",
        "tf32": bool(args.tf32) if device.type == "cuda" else None,
        "threads": args.threads,
        "batch": args.batch,
        "size": args.size,
        "train_step_s": t_train,
        "infer_batch_s": t_infer,
        "train_images_per_s": args.batch / t_train,
        "infer_images_per_s": args.batch / t_infer,
        "predict_gradcam_ms": cam_ms,
    }))


if __name__ == "__main__":
    main()
