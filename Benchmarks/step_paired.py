#!/usr/bin/env python3
"""The training-step benchmark, ours against PyTorch, paired: both run alternately, round after
round, on the same cases, and each ratio compares two runs taken next to each other.

    swift build -c release --product ssl-bench
    /path/to/venv-with-torch/bin/python Benchmarks/step_paired.py [--rounds 5] [case ...]

Each round runs `ssl-bench step` and then `Benchmarks/step_pytorch.py` (2 threads) on the same
cases, in turn, so a noisy minute on a shared machine hits both sides of the same pair. It prints
each pair (`ours ms / PyTorch ms / ratio`, where the ratio is ours in images/s over PyTorch's,
that is PyTorch's ms over ours), then the median ratio of every case over the rounds, and
whether the medians meet the targets of the step benchmark: every case at least 0.9×, the
ConvNet cases at least 1.3×. Run it on an otherwise idle machine: one round of all four cases
takes about a minute.
"""
import argparse
import os
import statistics
import subprocess
import sys

CASES = ["simclr-mlp", "simclr-convnet", "byol-mlp", "byol-convnet"]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def target(case):
    return 1.3 if case.endswith("convnet") else 0.9


def parse(output):
    """`step <case> <ms> <images/s>` lines → {case: ms}."""
    times = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[0] == "step":
            times[fields[1]] = float(fields[2])
    return times


def run(command):
    completed = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return parse(completed.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=CASES, help="cases to run (default: all four)")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (default 5)")
    parser.add_argument("--ssl-bench", default=os.path.join(ROOT, ".build", "release", "ssl-bench"),
                        help="the ssl-bench executable (default: the release build)")
    arguments = parser.parse_args()
    unknown = [case for case in arguments.cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; the cases are {', '.join(CASES)}")
    if not os.access(arguments.ssl_bench, os.X_OK):
        parser.error(f"{arguments.ssl_bench} is not an executable; run `swift build -c release --product ssl-bench`")

    ratios = {case: [] for case in arguments.cases}
    for round_index in range(1, arguments.rounds + 1):
        ours = run([arguments.ssl_bench, "step", *arguments.cases])
        reference = run([sys.executable, os.path.join(HERE, "step_pytorch.py"), *arguments.cases])
        for case in arguments.cases:
            if case not in ours or case not in reference:
                sys.exit(f"round {round_index}: no `step {case}` line from "
                         f"{'ssl-bench' if case not in ours else 'step_pytorch.py'}")
            ratio = reference[case] / ours[case]
            ratios[case].append(ratio)
            print(f"round {round_index} {case} {ours[case]:.1f} {reference[case]:.1f} {ratio:.2f}", flush=True)

    print()
    print("| case | " + " | ".join(f"r{i}" for i in range(1, arguments.rounds + 1)) + " | median | target |")
    print("|---|" + "---|" * arguments.rounds + "---|---|")
    met = True
    for case in arguments.cases:
        median = statistics.median(ratios[case])
        met = met and median >= target(case)
        cells = " | ".join(f"{ratio:.2f}" for ratio in ratios[case])
        print(f"| {case} | {cells} | {median:.2f} | ≥ {target(case)} |")
    print()
    print("medians meet the targets" if met else "medians miss a target")


if __name__ == "__main__":
    main()
