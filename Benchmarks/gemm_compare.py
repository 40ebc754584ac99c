#!/usr/bin/env python3
"""GEMM: ssl-bench against numpy's `a @ b` (OpenBLAS here), or torch's, on the same shapes, in one run.

    swift build -c release --product ssl-bench
    python3 Benchmarks/gemm_compare.py            # 2 rounds, 2 threads each
    python3 Benchmarks/gemm_compare.py --library torch    # with a python3 that has torch (MKL)

Both sides time each case the same way (warm-up, then at least 5 repetitions and 0.6 s,
best repetition reported) and run alternately for `--rounds` rounds; the best of the rounds
is kept, so a noisy moment on this shared machine hurts neither side more than the other.
numpy (torch) is limited to the same number of threads as the framework uses (all cores, 2 here).
"""
import argparse
import os
import subprocess
import sys
import time

CASES = [(256, 256, 256, "NN"), (1024, 1024, 1024, "NN"), (2048, 2048, 2048, "NN"),
         (512, 784, 1024, "NN"), (512, 1024, 1024, "NN"), (1024, 512, 1024, "TN"), (512, 1024, 784, "NT")]


def library_round(threads, library):
    """One timing of every case by numpy's `a @ b`, or by torch's (`library == "torch"`: the same
    arrays as CPU tensors, `torch.set_num_threads(threads)`)."""
    code = r'''
import time, numpy as np
cases, library, threads = %r, %r, %d
if library == "torch":
    import torch
    torch.set_num_threads(threads)
rng = np.random.default_rng(0)
for m, k, n, layout in cases:
    a = rng.uniform(-1, 1, (k, m) if layout[0] == "T" else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if layout[1] == "T" else (k, n)).astype(np.float32)
    if library == "torch":
        a, b = torch.from_numpy(a), torch.from_numpy(b)
    A = a.T if layout[0] == "T" else a
    B = b.T if layout[1] == "T" else b
    for _ in range(2): A @ B
    best, total, runs = 1e9, 0.0, 0
    while runs < 5 or total < 0.6:
        s = time.perf_counter(); A @ B; t = time.perf_counter() - s
        best = min(best, t); total += t; runs += 1
    print(f"gemm {m}x{k}x{n} {layout} {2*m*n*k/best/1e9:.1f}")
''' % (CASES, library, threads)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return parse(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout)


def ours_round(binary):
    return parse(subprocess.run([binary, "gemm"], check=True, capture_output=True, text=True).stdout)


def parse(text):
    result = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "gemm":
            result[(parts[1], parts[2])] = float(parts[3])
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "ssl-bench"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--library", choices=["numpy", "torch"], default="numpy",
                        help="compare with numpy's a @ b (default) or torch's (needs torch)")
    args = parser.parse_args()
    ours, theirs = {}, {}
    for _ in range(args.rounds):
        for key, value in ours_round(args.binary).items():
            ours[key] = max(ours.get(key, 0), value)
        for key, value in library_round(args.threads, args.library).items():
            theirs[key] = max(theirs.get(key, 0), value)
    print(f"| shape (MxKxN) | layout | ssl-bench GFLOP/s | {args.library} GFLOP/s | ratio |")
    print(f"|---|---|---:|---:|---:|")
    worst = float("inf")
    for m, k, n, layout in CASES:
        key = (f"{m}x{k}x{n}", layout)
        ratio = ours[key] / theirs[key]
        worst = min(worst, ratio)
        print(f"| {key[0]} | {layout} | {ours[key]:.1f} | {theirs[key]:.1f} | {ratio:.2f} |")
    print(f"\nworst ratio {worst:.2f} ({time.strftime('%Y-%m-%d')}, {args.threads} threads, {args.library})")


if __name__ == "__main__":
    main()
