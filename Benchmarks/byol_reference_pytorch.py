#!/usr/bin/env python3
"""PyTorch reference for the BYOL recipe (Recipes/BYOL/main.swift) on Fashion-MNIST.

Used to tell whether a low RankMe after the first epochs is inherent to the recipe or a bug
in the Swift implementation. It mirrors the Swift recipe's settings:

  backbone   ConvNet [32, 64, 128] (two conv3x3-BN-ReLU per stage, stride 2 at stages 2, 3,
             no conv bias, global average pool) -> 128 features
  projector  Linear 128->1024, BN1d, ReLU, Linear 1024->256
  predictor  Linear 256->1024, BN1d, ReLU, Linear 1024->256
  teacher    deep copy of backbone+projector, EMA of parameters and float buffers after every
             optimizer step (num_batches_tracked copied), tau_k = 1 - (1 - 0.99)(cos(pi k/K) + 1)/2
  loss       mean(2 - 2 cos(p1, z2)) + mean(2 - 2 cos(p2, z1))   (BYOLLoss: sum of two means)
  optimizer  AdamW lr 2e-3, wd 1e-4, betas 0.9/0.999, eps 1e-8, cosine to 0 per step over all
             steps of --total-epochs; batch 256 images, last partial batch dropped
  views      RandomResizedCrop(28, scale 0.3-1, ratio 3/4-4/3, bilinear, no antialias),
             HFlip p 0.5, with p 0.8 ColorJitter(brightness 0.4, contrast 0.4) in a random
             order, then Normalize(0.2860, 0.3530)   (Sources/SSLData, RecipeSetup.swift)
  bn-mode    joint: both views in one forward (batch 512), as the Swift recipe;
             per-view: each view forwarded on its own (batch 256), as lightly / solo-learn.

Evaluation after each epoch: teacher backbone (eval mode) on the 10000 test and 60000 train
images (normalised, no augmentation): RankMe (uncentred / centred, all 10000 test images and
the first 4096 as the Swift per-epoch RankMe callback uses), student-backbone RankMe, and
weighted kNN (k 20, cosine, exp(sim / 0.07)) with the train features as the bank.

  python Benchmarks/byol_reference_pytorch.py --bn-mode joint --epochs-to-run 1 --total-epochs 4 --seed 0
"""
import argparse
import copy
import gzip
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


# ----------------------------------------------------------------------------- data

def read_idx(path):
    """An IDX file (gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(prefix):
    images = read_idx(f"{DATA_DIR}/{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{DATA_DIR}/{prefix}-labels-idx1-ubyte.gz")
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


def augment(images, rng):
    """One augmented, normalised view of a batch [B, 28, 28] in [0, 1] -> [B, 1, 28, 28]."""
    b, size = images.shape[0], images.shape[1]
    # RandomResizedCrop
    top, left, h, w = crop_regions(b, rng, size)
    y0, y1, wy = interp_table(top, h, size)
    x0, x1, wx = interp_table(left, w, size)
    bi = torch.arange(b)[:, None]
    rows0, rows1 = images[bi, y0], images[bi, y1]                          # [B, out, 28]
    wy = wy[:, :, None]
    rows = (1 - wy) * rows0 + wy * rows1                                    # vertical blend
    c0 = rows.gather(2, x0[:, None, :].expand(b, size, size))
    c1 = rows.gather(2, x1[:, None, :].expand(b, size, size))
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

class ConvNet(nn.Module):
    def __init__(self, channels=(32, 64, 128), in_ch=1):
        super().__init__()
        layers, width = [], in_ch
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(width, c, 3, stride=1 if i == 0 else 2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            width = c
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))   # global average pool + flatten


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Linear(h, o))


def regression(p, z):
    return (2 - 2 * F.cosine_similarity(p, z, dim=1)).mean()


@torch.no_grad()
def ema_update(teacher, student, tau):
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(tau).add_(s, alpha=1 - tau)
    for t, s in zip(teacher.buffers(), student.buffers()):
        if t.dtype.is_floating_point:
            t.mul_(tau).add_(s, alpha=1 - tau)
        else:
            t.copy_(s)   # num_batches_tracked


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def features(backbone, images, batch=1000):
    was = backbone.training
    backbone.eval()
    out = torch.cat([backbone(((images[i:i + batch] - MEAN) / STD)[:, None]) for i in range(0, len(images), batch)])
    backbone.train(was)
    return out


def rankme(z, centre=False):
    z = z.double()
    if centre:
        z = z - z.mean(0, keepdim=True)
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + 1e-7
    return math.exp(-(p * p.log()).sum().item())


@torch.no_grad()
def knn_accuracy(train_f, train_y, test_f, test_y, k=20, t=0.07, classes=10, chunk=500):
    bank = F.normalize(train_f, dim=1)
    queries = F.normalize(test_f, dim=1)
    correct = 0
    for i in range(0, len(queries), chunk):
        sim = queries[i:i + chunk] @ bank.T
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(top), classes).scatter_add_(1, train_y[idx], (top / t).exp())
        correct += (votes.argmax(1) == test_y[i:i + chunk]).sum().item()
    return correct / len(queries)


# ----------------------------------------------------------------------------- training

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs-to-run", type=int, default=1)
    ap.add_argument("--total-epochs", type=int, default=4, help="length of the LR / EMA schedules")
    ap.add_argument("--bn-mode", choices=["joint", "per-view"], default="joint")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--predictor-lr-mult", type=float, default=1.0, help="predictor LR = mult x base LR")
    ap.add_argument("--ema-base", type=float, default=0.99)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    train_x, train_y = load_split("train")
    test_x, test_y = load_split("t10k")

    backbone = ConvNet()
    student = nn.Sequential(backbone, mlp(128, 1024, 256))
    predictor = mlp(256, 1024, 256)
    teacher = copy.deepcopy(student)            # warm start: equal to the student
    for p in teacher.parameters():
        p.requires_grad_(False)
    # Teacher stays in train mode during training (BN uses batch statistics), as in the Swift
    # recipe and the usual BYOL implementations; its running stats are then EMA-blended.

    groups = [{"params": student.parameters(), "lr": args.lr}]
    groups.append({"params": predictor.parameters(), "lr": args.lr * args.predictor_lr_mult})
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    steps_per_epoch = len(train_x) // args.batch_size          # 234, last partial batch dropped
    total_steps = steps_per_epoch * args.total_epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, eta_min=0.0)

    print(f"bn-mode {args.bn_mode}  seed {args.seed}  steps/epoch {steps_per_epoch}  total steps {total_steps}  "
          f"predictor lr x{args.predictor_lr_mult}", flush=True)
    step = 0
    for epoch in range(args.epochs_to_run):
        start = time.time()
        student.train(); predictor.train(); teacher.train()
        order = torch.from_numpy(rng.permutation(len(train_x)))
        losses = []
        for b in range(steps_per_epoch):
            images = train_x[order[b * args.batch_size:(b + 1) * args.batch_size]]
            v1, v2 = augment(images, rng), augment(images, rng)
            n = len(images)
            if args.bn_mode == "joint":
                p1, p2 = predictor(student(torch.cat([v1, v2]))).split(n)
                with torch.no_grad():
                    z1, z2 = teacher(torch.cat([v1, v2])).split(n)
            else:
                p1, p2 = predictor(student(v1)), predictor(student(v2))
                with torch.no_grad():
                    z1, z2 = teacher(v1), teacher(v2)
            loss = regression(p1, z2) + regression(p2, z1)     # BYOLLoss: sum of the two means
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            tau = 1 - (1 - args.ema_base) * (math.cos(math.pi * step / total_steps) + 1) / 2
            ema_update(teacher, student, tau)
            losses.append(loss.item())
            if (b + 1) % 50 == 0:
                print(f"  epoch {epoch + 1} step {b + 1}/{steps_per_epoch} loss {np.mean(losses[-50:]):.4f} "
                      f"lr {sched.get_last_lr()[0]:.2e} tau {tau:.5f} {time.time() - start:.0f}s", flush=True)
        train_seconds = time.time() - start

        teacher_backbone, student_backbone = teacher[0], student[0]
        test_f = features(teacher_backbone, test_x)
        train_f = features(teacher_backbone, train_x)
        student_test_f = features(student_backbone, test_x)
        result = {
            "rankme": rankme(test_f),
            "rankme_centred": rankme(test_f, centre=True),
            "rankme_first4096": rankme(test_f[:4096]),
            "student_rankme": rankme(student_test_f),
            "student_rankme_centred": rankme(student_test_f, centre=True),
            "knn": knn_accuracy(train_f, train_y, test_f, test_y),
            "loss": float(np.mean(losses)),
            "train_seconds": train_seconds,
            "epoch_seconds": time.time() - start,
        }
        print(f"epoch {epoch + 1}: " + "  ".join(f"{k} {v:.4f}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
