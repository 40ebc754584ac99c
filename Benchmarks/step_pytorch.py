#!/usr/bin/env python3
"""The training-step benchmark of `ssl-bench step`, in PyTorch, on identical models.

    python3 Benchmarks/step_pytorch.py [--batch B] [--steps S] [--threads T] [--cpu-time] [case ...]

One step: forward of both views as one batch of 2×256 random images (1×28×28; 3×32×32 for the
ResNet-18 cases), loss, backward, AdamW (lr 1e-3, weight decay 1e-4) step and, for BYOL, the
teacher forward and the EMA update of parameters and BatchNorm buffers (coefficient 0.996).
Median of 7 steps after 2 warm-up steps. Prints `step <case> <ms/step> <images/s>` (images count
samples, not views). Needs torch (CPU); 2 threads unless `--threads`. `--batch` sets the images
per view, `--steps` the timed steps, `--cpu-time` times by the process's CPU time
(time.process_time) instead of the wall clock, as `ssl-bench step --cpu-time` does. Cases:
simclr-mlp, simclr-convnet, byol-mlp, byol-convnet (the default), simclr-resnet18, byol-resnet18.
Models:
  MLP backbone: Flatten, Linear 784→1024, BatchNorm1d, ReLU, Linear 1024→1024, BatchNorm1d, ReLU.
  ConvNet: 3 stages of [Conv3×3 (no bias), BN2d, ReLU, Conv3×3 (no bias), BN2d, ReLU], channels
  32, 64, 128, stride 2 at the first conv of stages 2 and 3, padding 1; global average pool.
  ResNet-18 with the low-resolution stem (torchvision's, with conv1 a 3×3 stride-1 convolution
  and no max-pool, as CIFAR ResNets and solo-learn use): 512 features, SSLNN's `ResNet18`.
  Heads: Linear i→h, BatchNorm1d, ReLU, Linear h→o. SimCLR projector f→512→128, NT-Xent (T 0.5).
  BYOL projector f→1024→256, predictor 256→1024→256, loss 2 − 2·cos symmetrised.
"""
import argparse
import copy
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
BATCH = 256


def mlp_backbone():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
                         nn.Linear(1024, 1024), nn.BatchNorm1d(1024), nn.ReLU()), 1024


def convnet():
    layers, width = [], 1
    for index, channels in enumerate([32, 64, 128]):
        stride = 1 if index == 0 else 2
        layers += [nn.Conv2d(width, channels, 3, stride, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
                   nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        width = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), 128


class BasicBlock(nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(residual + (x if self.downsample is None else self.downsample(x)))


def resnet18():
    """torchvision's ResNet-18 with the low-resolution stem (3×3 stride-1 conv1, no max-pool)."""
    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    width = 64
    for index, channels in enumerate([64, 128, 256, 512]):
        stride = 1 if index == 0 else 2
        layers += [BasicBlock(width, channels, stride), BasicBlock(channels, channels, 1)]
        width = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), 512


def head(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, o))


def nt_xent(z1, z2, temperature=0.5):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.t() / temperature
    n = z1.shape[0]
    similarity.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(similarity, targets)


def byol_loss(p1, p2, z1, z2):
    return (2 - 2 * F.cosine_similarity(p1, z2, dim=1)).mean() + (2 - 2 * F.cosine_similarity(p2, z1, dim=1)).mean()


def simclr_step(backbone, features, image_shape):
    projector = head(features, 512, 128)
    params = list(backbone.parameters()) + list(projector.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    images = torch.rand(2 * BATCH, *image_shape)

    def step():
        z = projector(backbone(images))
        loss = nt_xent(z[:BATCH], z[BATCH:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def byol_step(backbone, features, image_shape):
    student = nn.Sequential(backbone, head(features, 1024, 256))
    teacher = copy.deepcopy(student).requires_grad_(False)
    predictor = head(256, 1024, 256)
    optimizer = torch.optim.AdamW(list(student.parameters()) + list(predictor.parameters()), lr=1e-3, weight_decay=1e-4)
    images = torch.rand(2 * BATCH, *image_shape)

    def step():
        p = predictor(student(images))
        with torch.no_grad():
            z = teacher(images)
        loss = byol_loss(p[:BATCH], p[BATCH:], z[:BATCH], z[BATCH:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for t, s in zip(teacher.parameters(), student.parameters()):
                t.mul_(0.996).add_(s, alpha=0.004)
            for t, s in zip(teacher.buffers(), student.buffers()):
                if t.dtype.is_floating_point:
                    t.mul_(0.996).add_(s, alpha=0.004)
                else:
                    t.copy_(s)
    return step


def main():
    global BATCH
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--batch", type=int, default=BATCH, help="images per view (default 256)")
    parser.add_argument("--steps", type=int, default=7, help="timed steps (default 7)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--cpu-time", action="store_true", help="time by CPU time, not the wall clock")
    arguments = parser.parse_args()
    BATCH = arguments.batch
    torch.set_num_threads(arguments.threads)
    clock = time.process_time if arguments.cpu_time else time.perf_counter
    all_cases = ["simclr-mlp", "simclr-convnet", "byol-mlp", "byol-convnet", "simclr-resnet18", "byol-resnet18"]
    requested = arguments.cases or all_cases[:4]
    unknown = [case for case in requested if case not in all_cases]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; the cases are {', '.join(all_cases)}")
    for name in all_cases:
        if name not in requested:
            continue
        method, backbone_name = name.split("-")
        builders = {"mlp": mlp_backbone, "convnet": convnet, "resnet18": resnet18}
        backbone, features = builders[backbone_name]()
        image_shape = (3, 32, 32) if backbone_name == "resnet18" else (1, 28, 28)
        step = (simclr_step if method == "simclr" else byol_step)(backbone, features, image_shape)
        for _ in range(2):
            step()
        times = []
        for _ in range(arguments.steps):
            start = clock()
            step()
            times.append(clock() - start)
        median = sorted(times)[len(times) // 2]
        print(f"step {name} {median * 1000:.1f} {BATCH / median:.1f}", flush=True)


if __name__ == "__main__":
    main()
