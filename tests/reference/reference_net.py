"""The reference net (models/depthwise_net.{h,cpp}) in PyTorch, for tests/test_torch_parity.cpp.

Usage: /usr/bin/python3 reference_net.py OUT_DIR

Parameter and buffer names are exactly those of the C++ net (stem_conv.weight,
stem_bn.*, blocks.<i>.{depthwise,bn1,pointwise,bn2}.*, classifier.*), so the files
load into it with load_checkpoint. Config cxr_small with 4 classes, batch-norm
momentum 0.1 and eps 1e-5, dropout p = 0 (CXR's dropout masks come from its own
generator). One training step in train mode on a 2 x 1 x 64 x 64 batch writes, float32:
  OUT_DIR/net/weights.safetensors  parameters and buffers before the step
  OUT_DIR/net/io.safetensors       input, labels, class_weights, logits, loss
  OUT_DIR/net/grads.safetensors    d(loss)/d(parameter) for every parameter
  OUT_DIR/net/after.safetensors    parameters after one torch.optim.AdamW step
                                   (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-2)
                                   and the running statistics after the forward pass
"""
import os
import sys

from safetensors_writer import save  # exits loudly when torch is missing

import torch
import torch.nn as nn
import torch.nn.functional as F

# NetConfig::cxr_small: (out_channels, stride) per block, stem 32 channels.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1)]
STEM_CHANNELS = 32
NUM_CLASSES = 4
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)


class SeparableBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in, momentum=0.1, eps=1e-5)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, momentum=0.1, eps=1e-5)

    def forward(self, x):
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class DepthwiseSeparableNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem_conv = nn.Conv2d(1, STEM_CHANNELS, 3, 2, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(STEM_CHANNELS, momentum=0.1, eps=1e-5)
        blocks, channels = [], STEM_CHANNELS
        for out_channels, stride in BLOCKS:
            blocks.append(SeparableBlock(channels, out_channels, stride))
            channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(p=0.0)
        self.classifier = nn.Linear(channels, NUM_CLASSES)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        for block in self.blocks:
            x = block(x)
        return self.classifier(self.dropout(x.mean(dim=(2, 3))))


def initialise(net):
    """Kaiming-normal convolutions and classifier; batch-norm affine parameters and
    running statistics away from their defaults, so that every one of them matters."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.normal_(1.0, 0.1)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)


def state(net):
    """Parameters and buffers by name, without torch's num_batches_tracked counters."""
    named = dict(net.named_parameters())
    named.update((k, v) for k, v in net.named_buffers() if not k.endswith("num_batches_tracked"))
    return {k: v.detach().clone() for k, v in named.items()}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: reference_net.py OUT_DIR")
    out_dir = os.path.join(sys.argv[1], "net")
    torch.set_num_threads(1)
    torch.manual_seed(2024)

    net = DepthwiseSeparableNet()
    initialise(net)
    net.train()
    x = torch.randn(2, 1, 64, 64)
    labels = torch.tensor([1, 3])
    class_weights = torch.tensor([0.5, 1.0, 2.0, 1.5])
    metadata = {"config": "cxr_small", "num_classes": NUM_CLASSES, "dropout": 0.0}
    save(os.path.join(out_dir, "weights.safetensors"), state(net), metadata)

    optimizer = torch.optim.AdamW(net.parameters(), **ADAMW)
    optimizer.zero_grad()
    logits = net(x)
    loss = F.cross_entropy(logits, labels, weight=class_weights)
    loss.backward()
    optimizer.step()

    save(os.path.join(out_dir, "io.safetensors"),
         {"input": x, "labels": labels.float(), "class_weights": class_weights, "logits": logits,
          "loss": loss}, metadata)
    save(os.path.join(out_dir, "grads.safetensors"),
         {name: p.grad for name, p in net.named_parameters()}, metadata)
    save(os.path.join(out_dir, "after.safetensors"), state(net), {**metadata, **ADAMW})
    print(f"wrote the reference net (loss {loss.item():.6f}) to {out_dir}")


if __name__ == "__main__":
    main()
