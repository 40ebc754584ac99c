#!/usr/bin/env python3
"""PyTorch references for the recipes (Recipes/<Method>/main.swift) on Fashion-MNIST.

Each method is built as its Swift recipe builds it, with the recipes' shared defaults
(Sources/SSLRecipes/RecipeOptions.swift, RecipeSetup.swift), so that the first epochs of the two
can be compared number for number:

  python3 Benchmarks/reference_pytorch.py --method simclr --epochs-to-run 1 --total-epochs 4 --seed 0
  python3 Benchmarks/reference_pytorch.py --method byol --epochs-to-run 4 --total-epochs 4
  python3 Benchmarks/reference_pytorch.py --evaluate-checkpoint runs/vicreg/version_0/checkpoints/last.safetensors

Shared by every method (the recipes' reference settings):
  data       the IDX files of /usr/share/datasets/fashion-mnist (`--data-dir`), pixels / 255
  views      two per image, each RandomResizedCrop(28, scale 0.3-1, ratio 3/4-4/3, bilinear,
             no antialias), HFlip p 0.5, with p 0.8 ColorJitter(brightness 0.4, contrast 0.4) in a
             random order, then Normalize(0.2860, 0.3530)   (RecipeSetup.augmentation)
  backbone   ConvNet [32, 64, 128]: per stage two conv3x3-BN-ReLU (no conv bias, stride 2 at the
             first conv of stages 2 and 3), global average pool -> 128 features   (SSLNN ConvNet)
  init       PyTorch's defaults, which ours copy (Linear and Conv2d: Kaiming-uniform a = sqrt 5,
             bias U(+-1/sqrt(fan_in)); BatchNorm weight 1, bias 0). The backbone is drawn from
             seed s, the heads from s + 1, as the recipes; the random streams differ, so runs
             agree in distribution, not weight for weight.
  batch      256 images (512 views), shuffled each epoch, the last partial batch dropped
             (234 steps per epoch); both views go through the networks as one batch, so
             BatchNorm statistics are over both views (`--bn-mode per-view`: each view on its own)
  optimizer  AdamW lr 2e-3, wd 1e-4 on every parameter, betas 0.9/0.999, eps 1e-8; the learning
             rate follows a cosine from lr to 0 over all steps of --total-epochs, stepped every step
             (dino: first a linear warm-up from 0.01 lr over 10% of the steps, as RecipeOptions)
  probes     the recipes' online linear probe trains on detached embeddings (it never changes the
             encoder) and is left out

Per method (the Swift file each follows is named):
  simclr       projector Linear 128-512 (bias), BN1d, ReLU, Linear 512-128 (bias); NT-Xent at
               temperature 0.2 over the 2N L2-normalised projections (self-similarity excluded,
               the positive is the other view; mean over the 2N anchors)   (NTXentLoss.swift)
  byol         student backbone + projector (128-1024-256, BN) + predictor (256-1024-256, BN);
               teacher = copies of backbone and projector, EMA of parameters and float buffers
               after every step (num_batches_tracked copied), coefficient at step k (0-based) of K
               1 - (1 - 0.99)(cos(pi k/K) + 1)/2; the teacher runs in training mode (batch
               statistics) and projects the embedding it computed; loss mean(2 - 2 cos(p1, z2)) +
               mean(2 - 2 cos(p2, z1))   (BYOLLoss.swift, TeacherStudentModule.swift); the encoder
               evaluated is the teacher's backbone
  vicreg       expander Linear 128-1024-1024-1024 without biases, BN1d + ReLU between; loss
               25 * mse(z1, z2) + 25 * (hinge(z1) + hinge(z2))/2 + 1 * (cov(z1) + cov(z2)),
               hinge(z) = mean relu(1 - sqrt(var(z) + 1e-4)) with the unbiased variance, cov(z) =
               sum of the squared off-diagonal entries of the covariance (over N - 1) / D
               (VICRegLoss.swift)
  barlowtwins  projector as vicreg's; each view standardised over the batch (biased variance,
               eps 1e-5, no affine), c = z1^T z2 / N, loss sum (c_ii - 1)^2 + 5e-3 sum_{i!=j} c_ij^2
               (BarlowTwinsLoss.swift)
  mocov3       query encoder: backbone + projector (Linear 128-1024-1024-256 without biases, BN1d +
               ReLU between, a BatchNorm1d(256) without affine last) + predictor (256-1024-256, no
               biases, BN + ReLU between); the momentum (key) encoder = copies of backbone and
               projector, EMA from 0.99 to 1 as byol's, in training mode; loss ctr(q1, k2) +
               ctr(q2, k1), ctr = cross-entropy of the normalised q k^T / 0.2 against the diagonal
               times 2 * 0.2 (MoCoV3Loss.swift); the encoder evaluated is the query backbone
  dino         student backbone + DINOHead (Linear 128-1024-1024-256, BatchNorm1d + GELU between
               (`--bn-in-head off`: GELU only), weights N(0, 0.02^2) (trunc_normal), biases 0;
               L2-normalised; weight-normalised last layer 256-4096 with its lengths fixed at 1);
               teacher = copies, EMA from 0.996 to 1 per step; crops: 2 global (28 px, scale
               0.4-1) and 6 local (12 px, scale 0.05-0.4) with the shared flip and jitter; the
               teacher sees the global crops (both in one batch), the student the globals in one
               batch and the locals in another; loss as DINOLoss.swift: mean
               over the pairs (global j, crop v != j) of the cross-entropy between
               softmax((t_j - c) / tt) and log_softmax(s_v / 0.1), tt rising linearly from 0.04 to
               0.07 over the first 30% of the steps (tt of step k from k), then c <- 0.9 c +
               0.1 mean(teacher logits); the encoder evaluated is the teacher's backbone
               (`--bn-mode` does not apply)

Evaluation after each epoch, the encoder in evaluation mode (BatchNorm on running statistics):
  knn_online   what the recipes log per epoch as `val/knn_acc` (SSLMethods OnlineKNN): the bank is
               a ring buffer of the 20 000 most recent *training* embeddings (both augmented
               views of each image, computed in training mode during the forward of the step,
               before the optimizer step; for BYOL and DINO the teacher backbone's, of DINO's
               global crops), L2-normalised, with
               their labels; the queries are the 10 000 un-augmented test images; weighted kNN,
               k 20, cosine similarity, votes exp(sim / 0.07), ties to the lowest class.
  knn          what the recipes print at the end as `knn-accuracy` (RecipeEvaluation,
               OfflineEvaluation): the same kNN with all 60 000 un-augmented training images as the
               bank. It reads higher than knn_online (un-augmented bank, three times as large).
  rankme, effective_rank   on all 10 000 test embeddings, uncentred and centred (the final lines);
               rankme_4096 / effective_rank_4096 on the first 4096 (the per-epoch RankMe callback).

`--evaluate-checkpoint FILE` instead evaluates the encoder of a recipe's checkpoint (the kept
`epoch=0-step=234.safetensors` of a 4-epoch run is its first epoch) with the offline numbers
above: the Swift encoder under exactly this evaluation. A checkpoint also holds OnlineKNN's
queue; `knn_online_saved_queue` classifies the test embeddings against it and reproduces the
run's logged `val/knn_acc` (printed next to it), which checks that knn_online here is the
recipes' computation (VICReg's first epoch: 0.6940 both).

Differences from the Swift runs, besides the random streams: PyTorch's float summation orders,
and the order in which augmentation parameters are drawn (numpy here, per-sample generators
there). Threads: 2 by default (`--threads`).
"""
import argparse
import copy
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
METHODS = ("simclr", "byol", "vicreg", "barlowtwins", "mocov3", "dino")


# ----------------------------------------------------------------------------- data

def read_idx(path):
    """An IDX file (gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(directory, prefix):
    images = read_idx(f"{directory}/{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{directory}/{prefix}-labels-idx1-ubyte.gz")
    # [N, 28, 28] in [0, 1]
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


# ----------------------------------------------------------------------------- augmentations
# Vectorised over a batch; parameters are drawn per image with a numpy generator.

def crop_regions(n, rng, size=28, scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params for n images (10 tries, then the centre crop)."""
    area = float(size * size)
    top = np.zeros(n, np.int64); left = np.zeros(n, np.int64)
    h = np.full(n, size, np.int64); w = np.full(n, size, np.int64)   # fallback: whole image (ratio 1 fits)
    done = np.zeros(n, bool)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1], n)
        aspect = np.exp(rng.uniform(log_lo, log_hi, n))
        ww = np.round(np.sqrt(target * aspect)).astype(np.int64)   # np.round: half to even, like Python's round
        hh = np.round(np.sqrt(target / aspect)).astype(np.int64)
        ok = (~done) & (ww > 0) & (ww <= size) & (hh > 0) & (hh <= size)
        t = (rng.random(n) * (size - hh + 1)).astype(np.int64)
        l = (rng.random(n) * (size - ww + 1)).astype(np.int64)
        top[ok], left[ok], h[ok], w[ok] = t[ok], l[ok], hh[ok], ww[ok]
        done |= ok
    return top, left, h, w


def interp_table(origin, length, out):
    """PyTorch bilinear (align_corners=False, no antialias) sample positions for each image:
    src = max((i + 0.5) * in / out - 0.5, 0); indices i0, i1 = min(i0 + 1, in - 1); weight of i1."""
    length = torch.from_numpy(length).float()[:, None]
    i = torch.arange(out, dtype=torch.float32)[None, :]
    real = ((i + 0.5) * length / out - 0.5).clamp(min=0)
    first = torch.minimum(real.floor(), length - 1)
    second = torch.minimum(first + 1, length - 1)
    weight = real - first
    o = torch.from_numpy(origin)[:, None]
    return first.long() + o, second.long() + o, weight


def augment(images, rng, out=None, scale=(0.3, 1.0)):
    """One augmented, normalised view of a batch [B, S, S] in [0, 1] -> [B, 1, out, out]
    (out: S by default; the crop's area a fraction `scale` of the image's)."""
    b, size = images.shape[0], images.shape[1]
    out = out or size
    # RandomResizedCrop
    top, left, h, w = crop_regions(b, rng, size, scale)
    y0, y1, wy = interp_table(top, h, out)
    x0, x1, wx = interp_table(left, w, out)
    bi = torch.arange(b)[:, None]
    rows0, rows1 = images[bi, y0], images[bi, y1]                          # [B, out, 28]
    wy = wy[:, :, None]
    rows = (1 - wy) * rows0 + wy * rows1                                    # vertical blend
    c0 = rows.gather(2, x0[:, None, :].expand(b, out, out))
    c1 = rows.gather(2, x1[:, None, :].expand(b, out, out))
    wx = wx[:, None, :]
    x = (1 - wx) * c0 + wx * c1
    # RandomHorizontalFlip p 0.5
    flip = torch.from_numpy(rng.random(b) < 0.5)
    x = torch.where(flip[:, None, None], x.flip(-1), x)
    # RandomApply([ColorJitter(brightness 0.4, contrast 0.4)], p 0.8): random order of the two
    apply = torch.from_numpy(rng.random(b) < 0.8)[:, None, None]
    brightness_first = torch.from_numpy(rng.random(b) < 0.5)[:, None, None]
    fb = torch.from_numpy(rng.uniform(0.6, 1.4, b).astype(np.float32))[:, None, None]
    fc = torch.from_numpy(rng.uniform(0.6, 1.4, b).astype(np.float32))[:, None, None]

    def bright(t):
        return (fb * t).clamp(0, 1)

    def contrast(t):   # blend with the mean of the (grayscale) image
        return (fc * t + (1 - fc) * t.mean(dim=(1, 2), keepdim=True)).clamp(0, 1)

    jittered = torch.where(brightness_first, contrast(bright(x)), bright(contrast(x)))
    x = torch.where(apply, jittered, x)
    return ((x - MEAN) / STD)[:, None]


# ----------------------------------------------------------------------------- networks
# Parameter names as the Swift modules' (stages.0.conv1.weight, …; MLP layers "0", "1", …), so
# a Swift checkpoint loads into them.

class Stage(nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), nn.BatchNorm2d(outputs)
        self.conv2, self.bn2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False), nn.BatchNorm2d(outputs)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class ConvNet(nn.Module):
    def __init__(self, channels=(32, 64, 128), inputs=1):
        super().__init__()
        widths = (inputs,) + tuple(channels)
        self.stages = nn.ModuleList([Stage(widths[i], widths[i + 1], 1 if i == 0 else 2) for i in range(len(channels))])
        self.features = channels[-1]

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        return x.mean(dim=(2, 3))   # global average pool + flatten


def mlp(sizes, batch_norm=True, bias=True, activation=nn.ReLU):
    """SSLNN's MLP: Linear -> BN1d -> activation for each hidden width, then a plain Linear."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=bias))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(activation())
    return nn.Sequential(*layers)


class DINOHead(nn.Module):
    """SSLNN's DINOHead: Linear-GELU-Linear-GELU-Linear (with batch_norm, BatchNorm1d before each
    GELU) to a 256 bottleneck (weights N(0, 0.02^2), biases 0), L2-normalised, then the weight-normalised
    last layer with its lengths fixed at 1 (norm_last_layer): logits = x . (v / |v|)^T, v starting
    as nn.Linear's weight."""

    def __init__(self, inputs, outputs, hidden=1024, bottleneck=256, layers=3, batch_norm=False):
        super().__init__()
        self.mlp = mlp([inputs] + [hidden] * (layers - 1) + [bottleneck], batch_norm=batch_norm, activation=nn.GELU)
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.weight_v = nn.Parameter(nn.Linear(bottleneck, outputs, bias=False).weight.detach().clone())

    def forward(self, x):
        return F.linear(F.normalize(self.mlp(x), dim=-1), F.normalize(self.weight_v, dim=1))


# ----------------------------------------------------------------------------- losses

def nt_xent(z1, z2, temperature):
    """NTXentLoss with two views: mean over the 2N anchors of -log softmax(positive)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = len(z)
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool), float("-inf"))
    targets = (torch.arange(n2) + n2 // 2) % n2
    return F.cross_entropy(sim, targets)


def byol_loss(p1, p2, z1, z2):
    """BYOLLoss: mean(2 - 2 cos(p1, z2)) + mean(2 - 2 cos(p2, z1))."""
    return (2 - 2 * F.cosine_similarity(p1, z2, dim=1)).mean() + (2 - 2 * F.cosine_similarity(p2, z1, dim=1)).mean()


def mocov3_loss(q1, q2, k1, k2, temperature):
    """MoCoV3Loss: ctr(q1, k2) + ctr(q2, k1), ctr = cross-entropy of normalize(q) normalize(k)^T / t
    against the diagonal, times 2t (the official code's scaling)."""
    def ctr(q, k):
        logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / temperature
        return F.cross_entropy(logits, torch.arange(len(q))) * (2 * temperature)
    return ctr(q1, k2) + ctr(q2, k1)


def dino_loss(student, teacher, center, student_temperature, teacher_temperature):
    """DINOLoss (before its centre update): the mean over the pairs (global crop j, crop v != j) of
    mean_b -sum softmax((t_j - c) / tt) log_softmax(s_v / ts)."""
    log_p = [F.log_softmax(s / student_temperature, dim=1) for s in student]
    q = [F.softmax((t.detach() - center) / teacher_temperature, dim=1) for t in teacher]
    terms = [-(qj * lp).sum(dim=1).mean() for j, qj in enumerate(q) for v, lp in enumerate(log_p) if v != j]
    return sum(terms) / len(terms)


def vicreg_loss(z1, z2, invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0, eps=1e-4):
    """VICRegLoss (the official main_vicreg.py)."""
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)

    def hinge(z):
        return F.relu(1 - torch.sqrt(z.var(dim=0) + eps)).mean()   # unbiased variance

    variance = (hinge(z1) + hinge(z2)) / 2

    def covariance(z):
        c = z - z.mean(dim=0)
        cov = (c.T @ c) / (n - 1)
        off = cov - torch.diag(torch.diag(cov))
        return off.pow(2).sum() / d

    return invariance_weight * invariance + variance_weight * variance + covariance_weight * (covariance(z1) + covariance(z2))


def barlow_twins_loss(z1, z2, lam=5e-3, eps=1e-5):
    """BarlowTwinsLoss: BatchNorm1d(affine=False) in training mode on each view, c = z1^T z2 / N."""
    n = len(z1)

    def standardise(z):
        return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)

    c = standardise(z1).T @ standardise(z2) / n
    diagonal = torch.diagonal(c)
    on = (diagonal - 1).pow(2).sum()
    off = c.pow(2).sum() - diagonal.pow(2).sum()
    return on + lam * off


# ----------------------------------------------------------------------------- methods
# Each builds its networks (backbone from seed s, heads from seed s + 1), computes one step's
# loss and training embeddings, does what follows the optimizer step, and names its encoder.

def forward_views(net, v1, v2, joint):
    """One network over both views: one batch (joint, as the recipes) or each view on its own."""
    if joint:
        return net(torch.cat([v1, v2]))
    return torch.cat([net(v1), net(v2)])


def two_views(images, rng):
    return augment(images, rng), augment(images, rng)


@torch.no_grad()
def ema_update(pairs, c):
    """teacher <- c teacher + (1 - c) student over parameters and float buffers; integer buffers
    (num_batches_tracked) copied (TeacherStudentModule.updateTeacher)."""
    for teacher, student in pairs:
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(c).add_(s, alpha=1 - c)
        for t, s in zip(teacher.buffers(), student.buffers()):
            if t.dtype.is_floating_point:
                t.mul_(c).add_(s, alpha=1 - c)
            else:
                t.copy_(s)


def ema_coefficient(step, total_steps, base, final):
    """Update k (0-based) of K uses c(k) = final - (final - base)(1 + cos(pi k / K)) / 2."""
    return final - 0.5 * (final - base) * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


class TwoViewMethod:
    """simclr, vicreg, barlowtwins: backbone -> head, a loss between the two views' outputs."""

    def __init__(self, args, head_sizes, bias, loss):
        torch.manual_seed(args.seed)
        self.backbone = ConvNet()
        torch.manual_seed(args.seed + 1)
        self.head = mlp([self.backbone.features] + head_sizes, batch_norm=True, bias=bias)
        self.loss = loss
        self.joint = args.bn_mode == "joint"

    def parameter_groups(self, lr):
        return [{"params": list(self.backbone.parameters()) + list(self.head.parameters()), "lr": lr}]

    def modules(self):
        return [self.backbone, self.head]

    views = staticmethod(two_views)

    def step(self, v1, v2, step, total_steps):
        n = len(v1)
        embedding = forward_views(self.backbone, v1, v2, self.joint)
        z = self.head(embedding)
        return self.loss(z[:n], z[n:]), embedding.detach()

    def after_step(self, step, total_steps):
        return {}

    def encoder(self):
        return self.backbone


class BYOL:
    def __init__(self, args):
        torch.manual_seed(args.seed)
        self.backbone = ConvNet()
        torch.manual_seed(args.seed + 1)
        self.projector = mlp([self.backbone.features, 1024, 256])
        self.predictor = mlp([256, 1024, 256])
        # Teachers: warm-started copies, gradients off, in training mode during training (they
        # follow the module's mode, as the recipe's TeacherStudentModule by default).
        self.teacher_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.teacher_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.base, self.final = args.ema_base, args.ema_final
        self.predictor_lr_mult = args.predictor_lr_mult
        self.joint = args.bn_mode == "joint"

    def parameter_groups(self, lr):
        return [{"params": list(self.backbone.parameters()) + list(self.projector.parameters()), "lr": lr},
                {"params": self.predictor.parameters(), "lr": lr * self.predictor_lr_mult}]

    def modules(self):
        return [self.backbone, self.projector, self.predictor, self.teacher_backbone, self.teacher_projector]

    views = staticmethod(two_views)

    def step(self, v1, v2, step, total_steps):
        n = len(v1)
        with torch.no_grad():
            embedding = forward_views(self.teacher_backbone, v1, v2, self.joint)   # the encoder evaluated
            targets = forward_views(self.teacher_projector, embedding[:n], embedding[n:], self.joint)
        student = forward_views(self.backbone, v1, v2, self.joint)
        predictions = forward_views(lambda x: self.predictor(self.projector(x)), student[:n], student[n:], self.joint)
        return byol_loss(predictions[:n], predictions[n:], targets[:n], targets[n:]), embedding

    def after_step(self, step, total_steps):
        c = ema_coefficient(step, total_steps, self.base, self.final)
        ema_update(((self.teacher_backbone, self.backbone), (self.teacher_projector, self.projector)), c)
        return {"ema": c}

    def encoder(self):
        return self.teacher_backbone

    def student_encoder(self):
        return self.backbone


class MoCoV3:
    def __init__(self, args):
        torch.manual_seed(args.seed)
        self.backbone = ConvNet()
        torch.manual_seed(args.seed + 1)
        self.projector = nn.Sequential(*mlp([self.backbone.features, 1024, 1024, 256], bias=False),
                                       nn.BatchNorm1d(256, affine=False))
        self.predictor = mlp([256, 1024, 256], bias=False)
        self.teacher_backbone = copy.deepcopy(self.backbone).requires_grad_(False)    # the momentum (key) encoder
        self.teacher_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.base, self.final, self.temperature = args.ema_base, args.ema_final, args.temperature
        self.joint = args.bn_mode == "joint"

    views = staticmethod(two_views)

    def parameter_groups(self, lr):
        return [{"params": [p for m in (self.backbone, self.projector, self.predictor) for p in m.parameters()], "lr": lr}]

    def modules(self):
        return [self.backbone, self.projector, self.predictor, self.teacher_backbone, self.teacher_projector]

    def step(self, v1, v2, step, total_steps):
        n = len(v1)
        embedding = forward_views(self.backbone, v1, v2, self.joint)   # the query encoder: the encoder evaluated
        queries = forward_views(lambda x: self.predictor(self.projector(x)), embedding[:n], embedding[n:], self.joint)
        with torch.no_grad():
            keys = forward_views(self.teacher_projector, *forward_views(self.teacher_backbone, v1, v2, self.joint).split(n),
                                 self.joint)
        return mocov3_loss(queries[:n], queries[n:], keys[:n], keys[n:], self.temperature), embedding.detach()

    def after_step(self, step, total_steps):
        c = ema_coefficient(step, total_steps, self.base, self.final)
        ema_update(((self.teacher_backbone, self.backbone), (self.teacher_projector, self.projector)), c)
        return {"ema": c}

    def encoder(self):
        return self.backbone


class DINO:
    def __init__(self, args):
        torch.manual_seed(args.seed)
        self.backbone = ConvNet()
        torch.manual_seed(args.seed + 1)
        self.head = DINOHead(self.backbone.features, args.out_dim, batch_norm=args.bn_in_head == "on")
        self.teacher_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        self.center = torch.zeros(1, args.out_dim)
        self.args = args
        self.base = 0.996 if args.ema_base is None else args.ema_base
        self.final = args.ema_final
        self.local_size = args.local_crop_size or max(4, round(28 * 96 / 224))
        self.teacher_temperature = args.warmup_teacher_temperature

    def views(self, images, rng):
        """2 global crops (scale 0.4-1, 28 px), then --local-crops local ones (scale 0.05-0.4, 12 px)."""
        crops = [augment(images, rng, scale=(0.4, 1.0)) for _ in range(2)]
        return crops + [augment(images, rng, out=self.local_size, scale=(0.05, 0.4)) for _ in range(self.args.local_crops)]

    def parameter_groups(self, lr):
        return [{"params": list(self.backbone.parameters()) + list(self.head.parameters()), "lr": lr}]

    def modules(self):
        return [self.backbone, self.head, self.teacher_backbone, self.teacher_head]

    def step(self, *crops_and_steps):
        *crops, step, total_steps = crops_and_steps
        a = self.args
        warmup = 0.3 * total_steps   # the teacher temperature rises linearly over 30% of the steps
        self.teacher_temperature = a.warmup_teacher_temperature + (a.teacher_temperature - a.warmup_teacher_temperature) \
            * min(1.0, step / warmup)
        n = len(crops[0])
        with torch.no_grad():
            embedding = self.teacher_backbone(torch.cat(crops[:2]))   # the teacher sees the global crops only
            teacher = list(self.teacher_head(embedding).split(n))
        student = list(self.head(self.backbone(torch.cat(crops[:2]))).split(n))
        if len(crops) > 2:
            student += list(self.head(self.backbone(torch.cat(crops[2:]))).split(n))
        loss = dino_loss(student, teacher, self.center, a.student_temperature, self.teacher_temperature)
        with torch.no_grad():
            self.center.mul_(a.center_momentum).add_(torch.cat(teacher).mean(dim=0, keepdim=True), alpha=1 - a.center_momentum)
        return loss, embedding

    def after_step(self, step, total_steps):
        c = ema_coefficient(step, total_steps, self.base, self.final)
        ema_update(((self.teacher_backbone, self.backbone), (self.teacher_head, self.head)), c)
        return {"ema": c, "teacher_t": self.teacher_temperature}

    def encoder(self):
        return self.teacher_backbone

    def student_encoder(self):
        return self.backbone


def make_method(args):
    if args.method == "simclr":
        return TwoViewMethod(args, [512, 128], True, lambda a, b: nt_xent(a, b, args.temperature))
    if args.method == "byol":
        return BYOL(args)
    if args.method == "vicreg":
        return TwoViewMethod(args, [1024, 1024, 1024], False,
                             lambda a, b: vicreg_loss(a, b, args.invariance_weight, args.variance_weight, args.covariance_weight))
    if args.method == "barlowtwins":
        return TwoViewMethod(args, [1024, 1024, 1024], False, lambda a, b: barlow_twins_loss(a, b, args.lambda_))
    if args.method == "mocov3":
        return MoCoV3(args)
    if args.method == "dino":
        return DINO(args)
    raise ValueError(f"unknown method {args.method}")


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def features(backbone, images, batch=512):
    """Embeddings of un-augmented, normalised images, the backbone in evaluation mode."""
    was = backbone.training
    backbone.eval()
    out = torch.cat([backbone(((images[i:i + batch] - MEAN) / STD)[:, None]) for i in range(0, len(images), batch)])
    backbone.train(was)
    return out


def effective_rank(z, centre=False):
    """exp(entropy of s / sum s + 1e-7): RankMe uncentred, the effective rank centred."""
    z = z.double()
    if centre:
        z = z - z.mean(0, keepdim=True)
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + 1e-7
    return math.exp(-(p * p.log()).sum().item())


@torch.no_grad()
def knn_accuracy(bank, bank_labels, queries, query_labels, k=20, t=0.07, classes=10, chunk=512):
    """WeightedKNN: cosine similarity, the k nearest vote with exp(sim / t), ties to the lowest class."""
    bank = F.normalize(bank, dim=1)
    queries = F.normalize(queries, dim=1)
    k = min(k, len(bank))
    correct = 0
    for i in range(0, len(queries), chunk):
        sim = queries[i:i + chunk] @ bank.T
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(top), classes, dtype=top.dtype).scatter_add_(1, bank_labels[idx], (top / t).exp())
        correct += (votes.argmax(1) == query_labels[i:i + chunk]).sum().item()
    return correct / len(queries)


class OnlineKNNQueue:
    """OnlineKNN's ring buffer: the most recent training embeddings (L2-normalised) and labels."""

    def __init__(self, length=20_000):
        self.length, self.bank, self.labels, self.filled, self.position = length, None, None, 0, 0

    def add(self, embeddings, labels):
        x = F.normalize(embeddings, dim=1)
        if self.bank is None:
            self.bank = torch.zeros(self.length, x.shape[1])
            self.labels = torch.zeros(self.length, dtype=torch.int64)
        rows = min(len(x), self.length)
        index = (self.position + torch.arange(rows)) % self.length
        self.bank[index], self.labels[index] = x[:rows], labels[:rows]
        self.position = (self.position + rows) % self.length
        self.filled = min(self.filled + rows, self.length)

    def accuracy(self, queries, query_labels):
        return knn_accuracy(self.bank[:self.filled], self.labels[:self.filled], queries, query_labels)


def offline_evaluation(encoder, train_x, train_y, test_x, test_y):
    test_f = features(encoder, test_x)
    train_f = features(encoder, train_x)
    return {
        "knn": knn_accuracy(train_f, train_y, test_f, test_y),
        "rankme": effective_rank(test_f),
        "effective_rank": effective_rank(test_f, centre=True),
        "rankme_4096": effective_rank(test_f[:4096]),
        "effective_rank_4096": effective_rank(test_f[:4096], centre=True),
    }, test_f


# ----------------------------------------------------------------------------- Swift checkpoints

def read_safetensors(path, metadata=False):
    """A safetensors file as {name: tensor} (F32, F64, I32, I64; no dependency on `safetensors`),
    and with `metadata` its header's __metadata__ too."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "I32": np.int32}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in dtypes:
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return (tensors, header.get("__metadata__", {})) if metadata else tensors


def saved_online_knn(path, test_f, test_y):
    """With a recipe checkpoint that holds OnlineKNN's queue: the kNN of `test_f` against that
    queue, and the `val/knn_acc` the run logged with it (None, None without a queue)."""
    tensors, metadata = read_safetensors(path, metadata=True)
    bank = tensors.get("callback/OnlineKNN[knn]/bank")
    if bank is None:
        return None, None
    state = json.loads(metadata.get("ssl.checkpoint", "{}"))
    filled = int(state.get("callbackValues", {}).get("OnlineKNN[knn]", {}).get("filled", len(bank)))
    labels = tensors["callback/OnlineKNN[knn]/labels"].long()
    logged = state.get("callbackMetrics", {}).get("val/knn_acc")
    return knn_accuracy(bank[:filled], labels[:filled], test_f, test_y), logged


def load_swift_encoder(path, prefix=None):
    """The ConvNet encoder in a recipe checkpoint or encoder.safetensors: the tensors under
    `prefix` (default: the run's `encoder_key` from hparams.json beside checkpoints/, else
    `backbone.teacher.` when present, else `backbone.`, else none)."""
    tensors = read_safetensors(path)
    names = list(tensors)
    hparams = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "hparams.json")
    if prefix is None and os.path.basename(os.path.dirname(os.path.abspath(path))) == "checkpoints" \
            and os.path.exists(hparams):
        key = json.load(open(hparams)).get("encoder_key")
        if key and any(n.startswith(key + ".stages.") for n in names):
            prefix = key + "."
    if prefix is None:
        candidates = [p for p in ("model.backbone.teacher.", "backbone.teacher.", "model.backbone.", "backbone.", "")
                      if any(n.startswith(p + "stages.") for n in names)]
        if not candidates:
            raise SystemExit(f"{path}: no ConvNet tensors (stages.*) found; names start {names[:5]}")
        prefix = candidates[0]
    encoder = ConvNet()
    state = {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix + "stages.")}
    missing = set(encoder.state_dict()) - set(state)
    if missing:
        raise SystemExit(f"{path}: under prefix '{prefix}' the tensors {sorted(missing)[:4]} are missing")
    encoder.load_state_dict({n: t.reshape(encoder.state_dict()[n].shape).to(encoder.state_dict()[n].dtype)
                             for n, t in state.items() if n in encoder.state_dict()})
    return encoder, prefix


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="PyTorch references for the recipes; see the file's header.")
    ap.add_argument("--method", choices=METHODS, default="byol")
    ap.add_argument("--epochs-to-run", type=int, default=1)
    ap.add_argument("--total-epochs", type=int, default=4, help="length of the learning-rate (and EMA) schedules")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--bn-mode", choices=["joint", "per-view"], default="joint")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--temperature", type=float, default=0.2, help="simclr, mocov3")
    ap.add_argument("--ema-base", type=float, default=None, help="byol, mocov3 (default 0.99), dino (0.996)")
    ap.add_argument("--ema-final", type=float, default=1.0, help="byol, mocov3, dino")
    ap.add_argument("--predictor-lr-mult", type=float, default=1.0, help="byol: predictor lr = mult x lr")
    ap.add_argument("--invariance-weight", type=float, default=25.0, help="vicreg")
    ap.add_argument("--variance-weight", type=float, default=25.0, help="vicreg")
    ap.add_argument("--covariance-weight", type=float, default=1.0, help="vicreg")
    ap.add_argument("--lambda", dest="lambda_", type=float, default=5e-3, help="barlowtwins")
    ap.add_argument("--out-dim", type=int, default=4096, help="dino: prototypes")
    ap.add_argument("--local-crops", type=int, default=6, help="dino")
    ap.add_argument("--local-crop-size", type=int, default=None, help="dino (default 12: 96/224 of 28)")
    ap.add_argument("--teacher-temperature", type=float, default=0.07, help="dino")
    ap.add_argument("--warmup-teacher-temperature", type=float, default=0.04, help="dino")
    ap.add_argument("--student-temperature", type=float, default=0.1, help="dino")
    ap.add_argument("--center-momentum", type=float, default=0.9, help="dino")
    ap.add_argument("--bn-in-head", choices=("on", "off"), default="on",
                    help="dino: BatchNorm1d after each hidden Linear of the head (the recipe's default: on)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop each epoch after this many steps (smoke tests)")
    ap.add_argument("--no-offline", action="store_true", help="skip the offline kNN over the 60 000 training images")
    ap.add_argument("--evaluate-checkpoint", nargs="+", metavar="FILE",
                    help="evaluate the ConvNet encoder of Swift checkpoints / encoder.safetensors instead of training")
    ap.add_argument("--encoder-key", default=None,
                    help="with --evaluate-checkpoint: where the encoder sits (default: the run's hparams.json)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.ema_base is None and args.method != "dino":
        args.ema_base = 0.99

    torch.set_num_threads(args.threads)
    train_x, train_y = load_split(args.data_dir, "train")
    test_x, test_y = load_split(args.data_dir, "t10k")

    if args.evaluate_checkpoint:
        for path in args.evaluate_checkpoint:
            start = time.time()
            encoder, prefix = load_swift_encoder(path, args.encoder_key + "." if args.encoder_key else None)
            result, test_f = offline_evaluation(encoder, train_x, train_y, test_x, test_y)
            online, logged = saved_online_knn(path, test_f, test_y)
            if online is not None:
                result["knn_online_saved_queue"] = online   # the checkpoint's queue: equals the run's val/knn_acc
                if logged is not None:
                    result["logged_val_knn_acc"] = logged
            print(f"{path} ({prefix or 'no prefix'}): " + "  ".join(f"{k} {v:.4f}" for k, v in result.items())
                  + f"  seconds {time.time() - start:.0f}", flush=True)
        return

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    method = make_method(args)
    opt = torch.optim.AdamW(method.parameter_groups(args.lr), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=args.weight_decay)
    steps_per_epoch = len(train_x) // args.batch_size          # 234, last partial batch dropped
    total_steps = steps_per_epoch * args.total_epochs
    if args.method == "dino":
        # RecipeOptions.optimizerSpec: DINO's learning rate rises linearly from 0.01 lr over the first
        # 10% of the steps, then follows a cosine to 0 over the rest (linearWarmupCosine).
        warmup = min(total_steps - 1, max(0, int(math.floor(total_steps * 0.1 + 0.5))))

        def dino_factor(step):
            if step < warmup:
                return 0.01 + 0.99 * step / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup)))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, dino_factor)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, eta_min=0.0)
    queue = OnlineKNNQueue()
    print(f"method {args.method}  bn-mode {args.bn_mode}  seed {args.seed}  lr {args.lr}  wd {args.weight_decay}  "
          f"batch {args.batch_size}  steps/epoch {steps_per_epoch}  total steps {total_steps}  threads {args.threads}",
          flush=True)

    run_start = time.time()
    step = 0
    for epoch in range(args.epochs_to_run):
        start = time.time()
        for module in method.modules():
            module.train()
        order = torch.from_numpy(rng.permutation(len(train_x)))
        losses = []
        steps = steps_per_epoch if args.max_steps is None else min(args.max_steps, steps_per_epoch)
        for b in range(steps):
            index = order[b * args.batch_size:(b + 1) * args.batch_size]
            images, labels = train_x[index], train_y[index]
            loss, embedding = method.step(*method.views(images, rng), step, total_steps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            extra = method.after_step(step, total_steps)   # the 0-based index of the step just taken
            step += 1
            queue.add(embedding, labels.repeat(len(embedding) // len(labels)))   # view-major, as the collation
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise SystemExit(f"non-finite loss at step {step}")
            if (b + 1) % 50 == 0 or b + 1 == steps:
                print(f"  epoch {epoch + 1} step {b + 1}/{steps} loss {np.mean(losses[-50:]):.4f} "
                      f"lr {sched.get_last_lr()[0]:.2e}" + "".join(f" {k} {v:.5f}" for k, v in extra.items())
                      + f" {time.time() - start:.0f}s", flush=True)
        train_seconds = time.time() - start

        encoder = method.encoder()
        test_f = features(encoder, test_x)
        result = {"knn_online": queue.accuracy(test_f, test_y),
                  "rankme_4096": effective_rank(test_f[:4096]), "effective_rank_4096": effective_rank(test_f[:4096], centre=True)}
        if not args.no_offline:
            offline, _ = offline_evaluation(encoder, train_x, train_y, test_x, test_y)
            result.update(offline)
        if hasattr(method, "student_encoder"):
            student_f = features(method.student_encoder(), test_x)
            result["student_rankme"] = effective_rank(student_f)
            result["student_effective_rank"] = effective_rank(student_f, centre=True)
        result.update({"loss": float(np.mean(losses)), "train_seconds": train_seconds, "epoch_seconds": time.time() - start})
        print(f"epoch {epoch + 1}: " + "  ".join(f"{k} {v:.4f}" for k, v in result.items()), flush=True)
    print(f"wall-seconds {time.time() - run_start:.1f}", flush=True)


if __name__ == "__main__":
    main()
