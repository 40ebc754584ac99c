#!/usr/bin/env python3
"""Reference numbers for the SSLOptim tests (optimizers, LR schedules, gradient
clipping), computed with PyTorch in float64.

Writes ../OptimReferenceValues.swift as `enum OptimReference`.

Optimizers
----------
Problem: parameters W [3, 4] and b [4] (literals optimW0, optimB0), data X [5, 3]
(optimX) and Y [5, 4] (optimY); loss = ((X @ W + b - Y) ** 2).mean().
One step = zero_grad, loss, backward, optimizer.step(). Every configuration runs
5 steps from the same initial values; recorded are the final W and b
(<config>W, <config>B) and the 5 losses computed before each step
(<config>Losses). Configurations:
    sgdPlain         SGD(lr=0.1)
    sgdMomentum      SGD(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)
    sgdNesterov      SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    adam             Adam(lr=0.01)
    adamWeightDecay  Adam(lr=0.01, weight_decay=0.1)
    adamW            AdamW(lr=0.01, weight_decay=0.01)
    adamWGroups      AdamW([{'params': [W]}, {'params': [b], 'lr': 0.02, 'weight_decay': 0.0}],
                           lr=0.01, weight_decay=0.05)
    lars             the LARS below (PyTorch has none built in)

LARS, as implemented here (lr=0.1, momentum=0.9, weight_decay=0.01,
trust_coefficient=0.02, eps=1e-8), for every parameter p with gradient g:
    if p.ndim > 1:            # biases / rank-1 parameters: no adaptation, no weight decay
        p_norm = ||p||, g_norm = ||g||          (Frobenius norms)
        if p_norm != 0 and g_norm != 0:
            local = trust_coefficient * p_norm / (g_norm + weight_decay * p_norm + eps)
            g = (g + weight_decay * p) * local
    # SGD momentum without dampening
    buf = g                       on the first step
    buf = momentum * buf + g      afterwards
    p  -= lr * buf
(Note: when p_norm or g_norm is 0 the gradient is left as it is, weight decay
included: nothing is added.)

Learning-rate schedules
-----------------------
A dummy SGD optimizer (lr 0.1) on one parameter. Recorded is
optimizer.param_groups[0]['lr'] before any scheduler step and after each of N
scheduler.step() calls (N + 1 values). optimizer.step() (a no-op: there is no
gradient) is called before each scheduler.step() so PyTorch's call-order
warning does not fire; scheduler warnings are suppressed anyway.
    cosineAnnealingLRs  CosineAnnealingLR(T_max=10, eta_min=0.001), N=12
    warmupCosineLRs     SequentialLR([LinearLR(start_factor=0.01, end_factor=1.0, total_iters=3),
                                      CosineAnnealingLR(T_max=7, eta_min=0.0)], milestones=[3]), N=10
    stepLRs             StepLR(step_size=3, gamma=0.5), N=10
    exponentialLRs      ExponentialLR(gamma=0.9), N=10
    linearLRs           LinearLR(start_factor=0.25, end_factor=1.0, total_iters=4), N=6
    plateauLRs          ReduceLROnPlateau(mode='min', factor=0.5, patience=2, threshold=1e-4,
                        threshold_mode='rel', cooldown=1, min_lr=0.01) stepped with
                        plateauMetrics; lr after each step only (no initial value)
    plateauMaxLRs       the same with mode='max', stepped with plateauMaxMetrics

Gradient clipping
-----------------
Two float64 tensors with gradients clipGrad1 [3] and clipGrad2 [2, 2]
(uniform(-2, 2), rounded):
    clip_grad_norm_([p1, p2], max_norm=1.0)  -> clipTotalNorm (one value, the norm
                                                before clipping), clipNormGrad1/2
    clip_grad_value_([p1, p2], 0.5) on the original gradients -> clipValueGrad1/2
    clip_grad_norm_(..., max_norm=100.0)     -> clipTotalNormLarge (gradients unchanged)
PyTorch's clip_grad_norm_ scales by max_norm / (total_norm + 1e-6), clamped to 1.

Conventions: float64 throughout; random inputs are uniform(-1, 1) from a fixed
numpy generator rounded to 4 decimals, so the literals are exactly the values
used. Tensor literals are `(shape: [Int], values: [Float])`, row-major, printed
with Python's `{v:.9g}`; sequences are `[Float]`.

Run from the repository root:
    /work/torch-venv/bin/python Tests/SSLOptimTests/Reference/make_reference.py
(any working directory works: the output path is relative to this file).
"""
import os
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.normpath(os.path.join(HERE, "..", "OptimReferenceValues.swift"))

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261125)


def uniform(*shape, low=-1.0, high=1.0):
    return np.round(rng.uniform(low, high, size=shape), 4)


def t(array):
    return torch.tensor(array, dtype=torch.float64)


def lit(name, value):
    array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
    array = np.asarray(array, dtype=np.float64)
    values = ", ".join(f"{v:.9g}" for v in array.reshape(-1))
    return f"    static let {name}: (shape: [Int], values: [Float]) = ({list(array.shape)}, [{values}])\n"


def seq(name, values):
    body = ", ".join(f"{float(v):.9g}" for v in values)
    return f"    static let {name}: [Float] = [{body}]\n"


out = [
    "// Generated by Reference/make_reference.py — do not edit by hand.\n",
    "// Optimizer trajectories, LR schedules and gradient clipping computed in float64 with PyTorch.\n\n",
    "enum OptimReference {\n",
]

# ---------------------------------------------------------------- optimizers
W0, B0 = uniform(3, 4), uniform(4)
X, Y = uniform(5, 3), uniform(5, 4)
out += [lit("optimW0", W0), lit("optimB0", B0), lit("optimX", X), lit("optimY", Y)]
Xt, Yt = t(X), t(Y)


def loss_fn(W, b):
    return ((Xt @ W + b - Yt) ** 2).mean()


class LARS(torch.optim.Optimizer):
    """The LARS variant described in the module docstring."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001, eps=1e-8):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        trust_coefficient=trust_coefficient, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if p.ndim > 1:
                    p_norm, g_norm = torch.norm(p), torch.norm(g)
                    if p_norm != 0 and g_norm != 0:
                        wd = group["weight_decay"]
                        local = group["trust_coefficient"] * p_norm / (g_norm + wd * p_norm + group["eps"])
                        g = (g + wd * p) * local
                state = self.state[p]
                if "momentum_buffer" not in state:
                    buf = state["momentum_buffer"] = g.clone()
                else:
                    buf = state["momentum_buffer"]
                    buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])


def make_config(name):
    W = t(W0).requires_grad_(True)
    b = t(B0).requires_grad_(True)
    O = torch.optim
    if name == "sgdPlain":
        opt = O.SGD([W, b], lr=0.1)
    elif name == "sgdMomentum":
        opt = O.SGD([W, b], lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)
    elif name == "sgdNesterov":
        opt = O.SGD([W, b], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    elif name == "adam":
        opt = O.Adam([W, b], lr=0.01)
    elif name == "adamWeightDecay":
        opt = O.Adam([W, b], lr=0.01, weight_decay=0.1)
    elif name == "adamW":
        opt = O.AdamW([W, b], lr=0.01, weight_decay=0.01)
    elif name == "adamWGroups":
        opt = O.AdamW([{"params": [W]}, {"params": [b], "lr": 0.02, "weight_decay": 0.0}],
                      lr=0.01, weight_decay=0.05)
    elif name == "lars":
        opt = LARS([W, b], lr=0.1, momentum=0.9, weight_decay=0.01, trust_coefficient=0.02, eps=1e-8)
    else:
        raise ValueError(name)
    return W, b, opt


for config in ["sgdPlain", "sgdMomentum", "sgdNesterov", "adam", "adamWeightDecay", "adamW",
               "adamWGroups", "lars"]:
    W, b, opt = make_config(config)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = loss_fn(W, b)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    out += [lit(f"{config}W", W), lit(f"{config}B", b), seq(f"{config}Losses", losses)]

# Independent check of plain SGD against the closed-form gradient.
Wc, bc = W0.copy(), B0.copy()
for _ in range(5):
    r = X @ Wc + bc - Y
    gW, gb = 2 * X.T @ r / r.size, 2 * r.sum(0) / r.size
    Wc, bc = Wc - 0.1 * gW, bc - 0.1 * gb
W, b, opt = make_config("sgdPlain")
for _ in range(5):
    opt.zero_grad()
    loss_fn(W, b).backward()
    opt.step()
assert np.allclose(W.detach().numpy(), Wc) and np.allclose(b.detach().numpy(), bc)

# ---------------------------------------------------------------- LR schedules
S = torch.optim.lr_scheduler
caught = []


def dummy_optimizer():
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def record(make, n):
    opt = dummy_optimizer()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(n):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
    caught.extend(str(x.message) for x in w)
    return lrs


out.append(seq("cosineAnnealingLRs", record(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 12)))
out.append(seq("warmupCosineLRs", record(lambda o: S.SequentialLR(
    o, [S.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=3),
        S.CosineAnnealingLR(o, T_max=7, eta_min=0.0)], milestones=[3]), 10)))
out.append(seq("stepLRs", record(lambda o: S.StepLR(o, step_size=3, gamma=0.5), 10)))
out.append(seq("exponentialLRs", record(lambda o: S.ExponentialLR(o, gamma=0.9), 10)))
out.append(seq("linearLRs", record(lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4), 6)))


def plateau(mode, metrics):
    opt = dummy_optimizer()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched = S.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=2, threshold=1e-4,
                                    threshold_mode="rel", cooldown=1, min_lr=0.01)
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
    caught.extend(str(x.message) for x in w)
    return lrs


plateau_metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]
plateau_max_metrics = [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3]
out += [seq("plateauMetrics", plateau_metrics), seq("plateauLRs", plateau("min", plateau_metrics)),
        seq("plateauMaxMetrics", plateau_max_metrics), seq("plateauMaxLRs", plateau("max", plateau_max_metrics))]

# ---------------------------------------------------------------- gradient clipping
g1, g2 = uniform(3, low=-2, high=2), uniform(2, 2, low=-2, high=2)


def clip_params():
    p1, p2 = torch.zeros(3, requires_grad=True), torch.zeros(2, 2, requires_grad=True)
    p1.grad, p2.grad = t(g1), t(g2)
    return p1, p2


p1, p2 = clip_params()
total = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0)
expected_total = np.sqrt((g1 ** 2).sum() + (g2 ** 2).sum())
assert np.isclose(total.item(), expected_total) and expected_total > 1.0
assert np.allclose(p1.grad.numpy(), g1 / (expected_total + 1e-6))
out += [lit("clipGrad1", g1), lit("clipGrad2", g2), seq("clipTotalNorm", [total.item()]),
        lit("clipNormGrad1", p1.grad), lit("clipNormGrad2", p2.grad)]

p1, p2 = clip_params()
torch.nn.utils.clip_grad_value_([p1, p2], clip_value=0.5)
assert np.array_equal(p2.grad.numpy(), np.clip(g2, -0.5, 0.5))
out += [lit("clipValueGrad1", p1.grad), lit("clipValueGrad2", p2.grad)]

p1, p2 = clip_params()
total_large = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm=100.0)
assert np.array_equal(p1.grad.numpy(), g1) and np.array_equal(p2.grad.numpy(), g2), "gradients changed"
out.append(seq("clipTotalNormLarge", [total_large.item()]))
out.append("}\n")

with open(OUT_PATH, "w") as f:
    f.write("".join(out))
print("wrote", OUT_PATH)
print("clip_grad_norm_ with max_norm=100 left the gradients unchanged")
if caught:
    print("scheduler warnings (suppressed from the output):")
    for message in sorted(set(caught)):
        print("  -", message)
else:
    print("no scheduler warnings were raised")
