#!/usr/bin/env python3
"""The training-step benchmark, ours against PyTorch, paired: both run alternately, round after
round, on the same cases, and each ratio compares two runs taken next to each other.

    swift build -c release --product ssl-bench
    /path/to/venv-with-torch/bin/python Benchmarks/step_paired.py [--rounds 5] [--batch B] [--threads T]
        [--steps S] [--cpu-time] [case ...]

Each round runs, for every case in turn, `ssl-bench step <case>` and then
`Benchmarks/step_pytorch.py <case>` (2 threads), each in its own process, so a noisy minute on a
shared machine hits both sides of the same pair, and each process's peak resident memory (max
RSS, from `wait4`) is that one case's step: model, optimizer state, activations and the runtime
itself (PyTorch's libraries included, as a user pays for them). It prints each pair
(`round <r> <case> <ours ms> <PyTorch ms> <ratio> <ours MiB> <PyTorch MiB>`, where the ratio is
ours in images/s over PyTorch's, that is PyTorch's ms over ours), then the median ratios of
every case over the rounds, and whether the medians meet the targets of issue 18 for the kernel
family ssl-bench runs (its first line, `kernel avx512` …; SSL_GEMM_KERNEL=avx2 forces AVX2, and
then PyTorch is held to AVX2 too: MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY): MLP cases at least 1.1×, ConvNet cases 2.2× with AVX-512 and 1.6× with AVX2,
ResNet-18 cases 1.3×, and peak memory at most 1.2× PyTorch's. Run it on an otherwise idle
machine: one round of the four small cases takes about a minute; the ResNet-18 cases take
about ten seconds a step at batch 256 (`--steps 3` keeps a round to a few minutes; `--batch 32` for a quick look).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CASES = ["simclr-mlp", "simclr-convnet", "byol-mlp", "byol-convnet", "simclr-resnet18", "byol-resnet18"]
DEFAULT_CASES = CASES[:4]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MEMORY_TARGET = 1.2


def target(case, kernel):
    """The issue's speed target for a case: the median ratio of images/s it must reach."""
    if case.endswith("resnet18"):
        return 1.3
    if case.endswith("convnet"):
        return 2.2 if kernel == "avx512" else 1.6
    return 1.1


def parse(output):
    """`step <case> <ms> <images/s>` lines → {case: ms}; `kernel <family>` → the family."""
    times, kernel = {}, None
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[0] == "step":
            times[fields[1]] = float(fields[2])
        elif len(fields) == 2 and fields[0] == "kernel":
            kernel = fields[1]
    return times, kernel


# PyTorch's libraries held to AVX2 + FMA, when ssl-bench runs its AVX2 kernels on a CPU that has
# AVX-512: MKL (matrix products), oneDNN (convolutions) and ATen's own vectorised kernels.
AVX2_ENVIRONMENT = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def run(command, environment=None):
    """Runs `command` in its own process (with `environment` added to ours); returns its parsed
    output and its peak RSS in MiB."""
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=ROOT,
                                   env={**os.environ, **(environment or {})})
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{err.read()}")
        # ru_maxrss is in KiB on Linux, in bytes on macOS.
        divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
        times, kernel = parse(out.read())
        return times, kernel, usage.ru_maxrss / divisor


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES,
                        help=f"cases to run (default: {', '.join(DEFAULT_CASES)}; also {', '.join(CASES[4:])})")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (default 5)")
    parser.add_argument("--batch", type=int, help="images per view (default: each side's 256)")
    parser.add_argument("--threads", type=int, help="threads of both sides (default: ssl-bench all cores, PyTorch 2)")
    parser.add_argument("--steps", type=int, help="timed steps of both sides, after their warm-up (default: each side's 7)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="both sides time steps by CPU time (with --threads 1: steady on a loaded machine)")
    parser.add_argument("--ssl-bench", default=os.path.join(ROOT, ".build", "release", "ssl-bench"),
                        help="the ssl-bench executable (default: the release build)")
    arguments = parser.parse_args()
    unknown = [case for case in arguments.cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; the cases are {', '.join(CASES)}")
    if not os.access(arguments.ssl_bench, os.X_OK):
        parser.error(f"{arguments.ssl_bench} is not an executable; run `swift build -c release --product ssl-bench`")
    batch = ["--batch", str(arguments.batch)] if arguments.batch else []
    batch += ["--threads", str(arguments.threads)] if arguments.threads else []
    batch += ["--steps", str(arguments.steps)] if arguments.steps else []
    batch += ["--cpu-time"] if arguments.cpu_time else []

    ratios = {case: [] for case in arguments.cases}
    memory = {case: [] for case in arguments.cases}
    kernel = None
    for round_index in range(1, arguments.rounds + 1):
        for case in arguments.cases:
            ours, kernel, ours_mib = run([arguments.ssl_bench, "step", *batch, case])
            reference, _, reference_mib = run([sys.executable, os.path.join(HERE, "step_pytorch.py"), *batch, case],
                                              AVX2_ENVIRONMENT if kernel == "avx2" else None)
            if case not in ours or case not in reference:
                sys.exit(f"round {round_index}: no `step {case}` line from "
                         f"{'ssl-bench' if case not in ours else 'step_pytorch.py'}")
            ratio = reference[case] / ours[case]
            ratios[case].append(ratio)
            memory[case].append(ours_mib / reference_mib)
            print(f"round {round_index} {case} {ours[case]:.1f} {reference[case]:.1f} {ratio:.2f} "
                  f"{ours_mib:.0f} {reference_mib:.0f}", flush=True)

    print()
    print(f"kernel {kernel}" + (f", batch {arguments.batch} per view" if arguments.batch else "")
          + (f", {arguments.threads} threads" if arguments.threads else "") + (", CPU time" if arguments.cpu_time else ""))
    print("| case | " + " | ".join(f"r{i}" for i in range(1, arguments.rounds + 1))
          + " | median | target | memory, ours / PyTorch (median) |")
    print("|---|" + "---|" * arguments.rounds + "---|---|---|")
    met = True
    for case in arguments.cases:
        median = statistics.median(ratios[case])
        memory_ratio = statistics.median(memory[case])
        met = met and median >= target(case, kernel) and memory_ratio <= MEMORY_TARGET
        cells = " | ".join(f"{ratio:.2f}" for ratio in ratios[case])
        print(f"| {case} | {cells} | {median:.2f} | ≥ {target(case, kernel)} | {memory_ratio:.2f} (≤ {MEMORY_TARGET}) |")
    print()
    print("medians meet the targets" if met else "medians miss a target")


if __name__ == "__main__":
    main()
