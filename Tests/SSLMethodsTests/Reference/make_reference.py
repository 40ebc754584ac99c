#!/usr/bin/env python3
"""Reference numbers for the SSLMethods tests (self-supervised losses, kNN
evaluation, RankMe, EMA schedules), computed in float64 with PyTorch and numpy.

Writes ../SSLReferenceValues.swift as `enum SSLReference`.

Run from the repository root:
    /work/torch-venv/bin/python Tests/SSLMethodsTests/Reference/make_reference.py
(any working directory works: the output path is resolved relative to this file).

Conventions
-----------
  * Inputs are drawn from numpy.random.default_rng(20261125) as uniform(-1, 1),
    rounded to 4 decimals, so the printed literals are exactly the values used
    (where inputs are scaled, e.g. by 3, they are rounded to 4 decimals again).
  * Everything is computed in float64 (torch.float64 / numpy float64).
  * Each loss is a scalar; gradients are `loss.backward()` with respect to every
    input, i.e. the raw (un-normalised) embeddings.
  * Tensor literals: `static let name: (shape: [Int], values: [Float]) = ([...], [...])`,
    values row-major, each printed with Python's `{v:.9g}`. Other members are
    `[Float]`, `[Int]` or `Float`.
  * For every loss there are two batch sizes, N = 4 and N = 6 (embedding
    dimension D = 5); members are named <prefix><N><Part>, e.g. ntxent4Z1,
    ntxent4Z2, ntxent4Loss (Float), ntxent4GradZ1, ntxent4GradZ2.

Definitions
-----------
normalize(x)   = x / max(||x||_2, 1e-12), row-wise (torch.nn.functional.normalize).
cos(a, b)      = torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-8), row-wise
                 (a.b / (max(||a||, eps) * max(||b||, eps)); eps never matters here).

1. NT-Xent (SimCLR), temperature T = 0.5, prefix `ntxent` (N = 4, 6):
       inputs z1, z2 [N, D];  Z = cat(normalize(z1), normalize(z2)) [2N, D];
       S = Z Z^T / T;  S[i, i] = -inf (self-similarity excluded);
       the positive of row i is row (i + N) mod 2N;
       loss = (1 / 2N) * sum_i cross_entropy(S[i], (i + N) mod 2N)
            = (1 / 2N) * sum_i [ -S[i, pos(i)] + log sum_{k != i} exp(S[i, k]) ].
   Also T = 0.2, N = 4 only, prefix `ntxentT02_4` (same inputs as ntxent4,
   written out again as ntxentT02_4Z1 / ntxentT02_4Z2).

2. Multi-view NT-Xent, 3 views, T = 0.5, prefix `ntxent3views` (N = 4, D = 5):
       inputs z1, z2, z3 [N, D];  Z = cat(normalize(z1), normalize(z2), normalize(z3)) [3N, D];
       S = Z Z^T / T;  for anchor a (row a = v*N + i, view v, sample i) the positives
       P(a) are the rows of the other 2 views of sample i;
       loss_a = -(1 / |P(a)|) * sum_{p in P(a)} log( exp(S[a, p]) / sum_{k != a} exp(S[a, k]) );
       loss = mean over all 3N anchors.
   Members: ntxent3views4Z1, ...Z2, ...Z3, ntxent3views4Loss, ntxent3views4GradZ1/2/3.
   The script asserts that this formula with 2 views equals definition 1.

3. BYOL, prefix `byol` (N = 4, 6): predictions p1, p2 and targets z1, z2 [N, D];
       loss = mean_i(2 - 2 cos(p1_i, z2_i)) + mean_i(2 - 2 cos(p2_i, z1_i))
   (the symmetrised sum of the BYOL paper; no stop-gradient: gradients are
   reported for all four inputs: byol<N>GradP1, GradP2, GradZ1, GradZ2).

4. Negative cosine similarity (SimSiam), prefix `negcos` (N = 4, 6): x0, x1 [N, D];
       loss = -mean_i cos(x0_i, x1_i).

5. VICReg, prefix `vicreg` (N = 4, 6), as the official implementation, with
   sim_coeff = 25, std_coeff = 25, cov_coeff = 1:
       invariance = mean((z1 - z2)^2) over all N*D elements;
       std_z      = sqrt(var(z, dim=0, unbiased) + 1e-4)              [D];
       variance   = mean(relu(1 - std_z1)) / 2 + mean(relu(1 - std_z2)) / 2;
       z_c        = z - mean(z, dim=0);  cov_z = z_c^T z_c / (N - 1)  [D, D];
       covariance = sum_{i != j} cov_z1[i, j]^2 / D + sum_{i != j} cov_z2[i, j]^2 / D;
       loss       = 25 * invariance + 25 * variance + 1 * covariance.
   The three unweighted terms are also written (vicreg<N>Invariance,
   vicreg<N>Variance, vicreg<N>Covariance). Columns 0 and 2 of both inputs are
   multiplied by 3 (then rounded to 4 decimals) so that some per-dimension stds
   are above 1 and some below (the script asserts both occur for each input and
   that no std is within 0.05 of the relu kink).

6. Barlow Twins, prefix `barlow` (N = 4, 6), lambda = 5e-3:
       z_norm = (z - mean(z, dim=0)) / sqrt(var_biased(z, dim=0) + 1e-5)
                (BatchNorm1d(D, affine=False) in training mode; asserted);
       c      = z1_norm^T z2_norm / N                                  [D, D];
       loss   = sum_i (c[i, i] - 1)^2 + lambda * sum_{i != j} c[i, j]^2.

7. Weighted kNN classifier, prefix `knn`: bank knnBank [12, 4] with labels
   knnBankLabels ([Int], classes 0..2), queries knnQueries [5, 4] with labels
   knnQueryLabels; k = 4, temperature 0.07:
       sim = normalize(queries) normalize(bank)^T                      [5, 12];
       for each query take the k bank rows with the largest sim;
       w = exp(sim / 0.07);  score[c] = sum of w over those neighbours with label c
       (0 for classes without a neighbour);
       prediction = argmax_c score[c] (lowest class index on ties).
   Written: knnScores [5, 3], knnPredictions [Int], knnAccuracy (Float,
   fraction of queries predicted correctly; strictly between 0 and 1 by
   construction, asserted). Bank rows and queries 0-2 are fixed class centres
   plus uniform(-0.6, 0.6) noise; queries 3 and 4 are mixtures of two centres
   (0.55/0.45) plus uniform(-0.2, 0.2) noise, so they can be misclassified.
   The script asserts that the top-k sets and the argmaxes are not near-ties.

8. RankMe, prefix `rankme`: E [8, 5] (rankmeEmbeddings);
       sigma = numpy.linalg.svd(E, compute_uv=False)   (descending);
       p_k   = sigma_k / sum(sigma) + 1e-7;
       RankMe = exp(-sum_k p_k log p_k).
   Written: rankmeSingularValues [Float], rankmeValue (Float). Rank-deficient
   case: rankmeLowRankEmbeddings = A B with A [8, 2], B [2, 5] (4-decimal draws;
   the product is exact to 8 decimals and printed exactly), rankmeLowRankValue
   (close to, and below, 2).

9. EMA coefficients, prefix `ema`:
       cosine schedule over epochs (base 0.996, final 1.0, total 100):
           c(epoch) = final - 0.5 (final - base) (1 + cos(pi epoch / total))
           at epochs [0, 50, 100]                         -> emaCosineCoefficients;
       per-step schedule (tau0 = 0.9995, maxSteps = 1000):
           tau(step) = 1 - (1 - tau0) (cos(pi step / maxSteps) + 1) / 2
           at steps [0, 500, 1000]                        -> emaStepCoefficients.
   Their double-precision values (Python repr, which round-trips exactly) are
   printed to stdout and recorded in a comment above each member.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.normpath(os.path.join(HERE, "..", "SSLReferenceValues.swift"))

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261125)
D = 5


def uniform(*shape, low=-1.0, high=1.0):
    """Rounded draw as a float64 numpy array (the literal is the exact value)."""
    return np.round(rng.uniform(low, high, size=shape), 4)


def t(array, grad=False):
    return torch.tensor(array, dtype=torch.float64, requires_grad=grad)


def fmt(v):
    return f"{float(v):.9g}"


def lit(name, value):
    array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
    array = np.asarray(array, dtype=np.float64)
    values = ", ".join(fmt(v) for v in array.reshape(-1))
    shape = list(array.shape)
    return f"    static let {name}: (shape: [Int], values: [Float]) = ({shape}, [{values}])\n"


def float_list(name, values):
    return f"    static let {name}: [Float] = [{', '.join(fmt(v) for v in values)}]\n"


def int_list(name, values):
    return f"    static let {name}: [Int] = [{', '.join(str(int(v)) for v in values)}]\n"


def scalar(name, value):
    value = value.item() if torch.is_tensor(value) else value
    return f"    static let {name}: Float = {fmt(value)}\n"


out = [
    "// Generated by Reference/make_reference.py — do not edit by hand.\n",
    "// Inputs, losses, gradients and evaluation metrics computed in float64 with PyTorch/numpy.\n\n",
    "enum SSLReference {\n",
]


def emit_loss(prefix, inputs, loss_fn, extra=None):
    """inputs: list of (suffix, numpy array). Writes inputs, loss and gradients."""
    tensors = [t(a, grad=True) for _, a in inputs]
    loss = loss_fn(*tensors)
    loss.backward()
    for (suffix, a), _ in zip(inputs, tensors):
        out.append(lit(f"{prefix}{suffix}", a))
    out.append(scalar(f"{prefix}Loss", loss))
    if extra is not None:
        for suffix, value in extra(*[x.detach() for x in tensors]):
            out.append(scalar(f"{prefix}{suffix}", value))
    for (suffix, _), x in zip(inputs, tensors):
        out.append(lit(f"{prefix}Grad{suffix}", x.grad))
    return loss.item(), [x.grad.numpy().copy() for x in tensors]


def normalize(x):
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


# ---------------------------------------------------------------- 1. NT-Xent
def ntxent(z1, z2, temperature):
    n = z1.shape[0]
    z = torch.cat([normalize(z1), normalize(z2)], dim=0)
    s = z @ z.T / temperature
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(s, targets)


def ntxent_multiview(views, temperature):
    """Definition 2 for any number of views."""
    v, n = len(views), views[0].shape[0]
    z = torch.cat([normalize(x) for x in views], dim=0)
    s = z @ z.T / temperature
    self_mask = torch.eye(v * n, dtype=torch.bool)
    s = s.masked_fill(self_mask, float("-inf"))
    log_prob = s - torch.logsumexp(s, dim=1, keepdim=True)
    sample = torch.arange(v * n) % n
    pos_mask = (sample[:, None] == sample[None, :]) & ~self_mask
    log_prob = log_prob.masked_fill(~pos_mask, 0.0)  # -inf on the diagonal is not a positive
    per_anchor = -log_prob.sum(dim=1) / pos_mask.sum(dim=1)
    return per_anchor.mean()


ntxent_inputs = {}
for n in (4, 6):
    z1, z2 = uniform(n, D), uniform(n, D)
    ntxent_inputs[n] = (z1, z2)
    emit_loss(f"ntxent{n}", [("Z1", z1), ("Z2", z2)], lambda a, b: ntxent(a, b, 0.5))

z1, z2 = ntxent_inputs[4]
emit_loss("ntxentT02_4", [("Z1", z1), ("Z2", z2)], lambda a, b: ntxent(a, b, 0.2))

# The multi-view formula with 2 views is definition 1.
for n, (z1, z2) in ntxent_inputs.items():
    for temperature in (0.5, 0.2):
        a, b = t(z1, True), t(z2, True)
        l1 = ntxent(a, b, temperature)
        g1 = torch.autograd.grad(l1, [a, b])
        l2 = ntxent_multiview([a, b], temperature)
        g2 = torch.autograd.grad(l2, [a, b])
        assert abs(l1.item() - l2.item()) < 1e-12, (n, temperature, l1.item(), l2.item())
        assert all(torch.allclose(x, y, atol=1e-12) for x, y in zip(g1, g2))

# ---------------------------------------------------------------- 2. NT-Xent, 3 views
z1, z2, z3 = uniform(4, D), uniform(4, D), uniform(4, D)
emit_loss("ntxent3views4", [("Z1", z1), ("Z2", z2), ("Z3", z3)],
          lambda a, b, c: ntxent_multiview([a, b, c], 0.5))


# ---------------------------------------------------------------- 3. BYOL
def byol(p1, p2, z1, z2):
    c1 = F.cosine_similarity(p1, z2, dim=1, eps=1e-8)
    c2 = F.cosine_similarity(p2, z1, dim=1, eps=1e-8)
    return (2 - 2 * c1).mean() + (2 - 2 * c2).mean()


for n in (4, 6):
    p1, p2, z1, z2 = uniform(n, D), uniform(n, D), uniform(n, D), uniform(n, D)
    emit_loss(f"byol{n}", [("P1", p1), ("P2", p2), ("Z1", z1), ("Z2", z2)], byol)


# ---------------------------------------------------------------- 4. Negative cosine
def negcos(x0, x1):
    return -F.cosine_similarity(x0, x1, dim=1, eps=1e-8).mean()


for n in (4, 6):
    x0, x1 = uniform(n, D), uniform(n, D)
    emit_loss(f"negcos{n}", [("X0", x0), ("X1", x1)], negcos)


# ---------------------------------------------------------------- 5. VICReg
def off_diagonal(m):
    return m - torch.diag(torch.diagonal(m))


def vicreg_terms(z1, z2):
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)
    std1 = torch.sqrt(z1.var(dim=0) + 1e-4)
    std2 = torch.sqrt(z2.var(dim=0) + 1e-4)
    variance = torch.mean(F.relu(1 - std1)) / 2 + torch.mean(F.relu(1 - std2)) / 2
    c1, c2 = z1 - z1.mean(dim=0), z2 - z2.mean(dim=0)
    cov1, cov2 = c1.T @ c1 / (n - 1), c2.T @ c2 / (n - 1)
    covariance = off_diagonal(cov1).pow(2).sum() / d + off_diagonal(cov2).pow(2).sum() / d
    return invariance, variance, covariance


def vicreg(z1, z2):
    inv, var, cov = vicreg_terms(z1, z2)
    return 25.0 * inv + 25.0 * var + 1.0 * cov


def scaled(x, columns=(0, 2), factor=3.0):
    x = x.copy()
    x[:, list(columns)] *= factor
    return np.round(x, 4)


for n in (4, 6):
    z1, z2 = scaled(uniform(n, D)), scaled(uniform(n, D))
    for z in (z1, z2):
        std = np.sqrt(z.var(axis=0, ddof=1) + 1e-4)
        assert (std < 1).any() and (std > 1).any(), std
        assert np.abs(std - 1).min() > 0.05, std
    emit_loss(f"vicreg{n}", [("Z1", z1), ("Z2", z2)], vicreg,
              extra=lambda a, b: zip(("Invariance", "Variance", "Covariance"), vicreg_terms(a, b)))


# ---------------------------------------------------------------- 6. Barlow Twins
def barlow(z1, z2, lam=5e-3):
    n = z1.shape[0]

    def bn(z):
        return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + 1e-5)

    c = bn(z1).T @ bn(z2) / n
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = off_diagonal(c).pow(2).sum()
    return on_diag + lam * off_diag


def barlow_batchnorm(z1, z2, lam=5e-3):
    bn = torch.nn.BatchNorm1d(z1.shape[1], affine=False).train()
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    return (torch.diagonal(c) - 1).pow(2).sum() + lam * off_diagonal(c).pow(2).sum()


for n in (4, 6):
    z1, z2 = uniform(n, D), uniform(n, D)
    loss, _ = emit_loss(f"barlow{n}", [("Z1", z1), ("Z2", z2)], barlow)
    assert abs(barlow_batchnorm(t(z1), t(z2)).item() - loss) < 1e-12

# ---------------------------------------------------------------- 7. Weighted kNN
K, KNN_T, CLASSES = 4, 0.07, 3
centres = np.array([[1.0, 0.2, -0.3, 0.1], [-0.2, 1.0, 0.3, -0.4], [0.1, -0.3, -1.0, 0.5]])
bank_labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
bank = np.round(centres[bank_labels] + uniform(12, 4, low=-0.6, high=0.6), 4)
query_labels = np.array([0, 1, 2, 1, 2])
queries = np.round(centres[query_labels] + uniform(5, 4, low=-0.6, high=0.6), 4)
# Queries 3 and 4 sit between two classes (mixtures of centres), so some are misclassified.
queries[3] = np.round(0.45 * centres[1] + 0.55 * centres[0] + uniform(4, low=-0.2, high=0.2), 4)
queries[4] = np.round(0.45 * centres[2] + 0.55 * centres[1] + uniform(4, low=-0.2, high=0.2), 4)

sim = normalize(t(queries)) @ normalize(t(bank)).T
top_sim, top_idx = sim.topk(K, dim=1)
weights = torch.exp(top_sim / KNN_T)
scores = torch.zeros(len(queries), CLASSES)
scores.scatter_add_(1, torch.tensor(bank_labels)[top_idx], weights)
predictions = np.argmax(scores.numpy(), axis=1)  # first maximum = lowest class index on ties
accuracy = float((predictions == query_labels).mean())
assert 0.0 < accuracy < 1.0, accuracy
sorted_sim = np.sort(sim.numpy(), axis=1)[:, ::-1]
assert (sorted_sim[:, K - 1] - sorted_sim[:, K] > 1e-3).all(), "top-k near a tie"
sorted_scores = np.sort(scores.numpy(), axis=1)[:, ::-1]
assert ((sorted_scores[:, 0] - sorted_scores[:, 1]) / sorted_scores[:, 0] > 1e-3).all(), "argmax near a tie"
out += [lit("knnBank", bank), int_list("knnBankLabels", bank_labels), lit("knnQueries", queries),
        int_list("knnQueryLabels", query_labels), lit("knnScores", scores), int_list("knnPredictions", predictions),
        scalar("knnAccuracy", accuracy)]


# ---------------------------------------------------------------- 8. RankMe
def rankme(e):
    sigma = np.linalg.svd(e, compute_uv=False)
    p = sigma / sigma.sum() + 1e-7
    return sigma, float(np.exp(-(p * np.log(p)).sum()))


emb = uniform(8, 5)
sigma, rank_value = rankme(emb)
left, right = uniform(8, 2), uniform(2, 5)
low_rank = np.round(left @ right, 8)  # exact decimal product of 4-decimal factors
low_sigma, low_rank_value = rankme(low_rank)
assert 1.0 < low_rank_value < 2.0 + 1e-5 and low_sigma[2] < 1e-12 * low_sigma[0]
out += [lit("rankmeEmbeddings", emb), float_list("rankmeSingularValues", sigma), scalar("rankmeValue", rank_value),
        lit("rankmeLowRankEmbeddings", low_rank), scalar("rankmeLowRankValue", low_rank_value)]


# ---------------------------------------------------------------- 9. EMA coefficients
def cosine_ema(epoch, base=0.996, final=1.0, total=100):
    return final - 0.5 * (final - base) * (1 + math.cos(math.pi * epoch / total))


def step_tau(step, tau0=0.9995, max_steps=1000):
    return 1 - (1 - tau0) * (math.cos(math.pi * step / max_steps) + 1) / 2


ema_cos = [cosine_ema(e) for e in (0, 50, 100)]
ema_step = [step_tau(s) for s in (0, 500, 1000)]
out += ["    // double precision: " + ", ".join(repr(v) for v in ema_cos) + "\n",
        float_list("emaCosineCoefficients", ema_cos),
        "    // double precision: " + ", ".join(repr(v) for v in ema_step) + "\n",
        float_list("emaStepCoefficients", ema_step)]

out.append("}\n")
with open(OUT_PATH, "w") as f:
    f.write("".join(out))

print("wrote", OUT_PATH)
print(f"kNN predictions {predictions.tolist()} (labels {query_labels.tolist()}), accuracy {accuracy}")
print(f"RankMe {rank_value:.9g} (singular values {', '.join(fmt(s) for s in sigma)})")
print(f"RankMe low rank {low_rank_value:.9g} (singular values {', '.join(f'{s:.3g}' for s in low_sigma)})")
print("EMA cosine coefficients (epochs 0, 50, 100), double:", ", ".join(repr(v) for v in ema_cos))
print("EMA step coefficients (steps 0, 500, 1000), double:", ", ".join(repr(v) for v in ema_step))
