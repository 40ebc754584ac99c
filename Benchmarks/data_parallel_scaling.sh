#!/usr/bin/env bash
# Data-parallel scaling on one machine: the simclr-convnet training step (global batch: 2 views
# of 256 images)
# as 1 rank × 1 thread, 1 rank × 2 threads, and 2 ranks × 1 thread under mpirun, with the
# gradient all-reduce overlapping backward and after it, alternated round after round so each
# round compares runs taken next to each other. Prints `round <r> <setting> <ms/step>` lines,
# then the median ms of each setting and the ratios the README reports.
#
#   swift build -c release --traits MPI --scratch-path .build-mpi --product ssl-bench
#   Benchmarks/data_parallel_scaling.sh [rounds (default 5)] [case (default simclr-convnet)]
# Run it on an otherwise idle machine with at least 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
CASE=${2:-simclr-convnet}
BENCH=${BENCH:-.build-mpi/release/ssl-bench}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2)
step_ms() {
    local output
    output=$("$@" 2>&1) || { echo "failed: $*" >&2; echo "$output" >&2; exit 1; }
    awk -v c="$CASE" '$1 == "step" && $2 == c { print $3 }' <<<"$output"
}
declare -A all
for round in $(seq 1 "$ROUNDS"); do
    for setting in 1x1 1x2 2x1 2x1-no-overlap; do
        case $setting in
            1x1) ms=$(step_ms "$BENCH" step --threads 1 "$CASE") ;;
            1x2) ms=$(step_ms "$BENCH" step --threads 2 "$CASE") ;;
            2x1) ms=$(step_ms "${MPIRUN[@]}" "$BENCH" step --threads 1 "$CASE") ;;
            2x1-no-overlap) ms=$(step_ms "${MPIRUN[@]}" "$BENCH" step --threads 1 --no-overlap "$CASE") ;;
        esac
        [ -n "$ms" ] || { echo "no step line for $CASE in setting $setting" >&2; exit 1; }
        echo "round $round $setting $ms"
        all[$setting]="${all[$setting]:-} $ms"
    done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m11=$(median "${all[1x1]}"); m12=$(median "${all[1x2]}"); m21=$(median "${all[2x1]}"); m21n=$(median "${all[2x1-no-overlap]}")
echo "median ms/step: 1x1 $m11, 1x2 $m12, 2x1 $m21, 2x1-no-overlap $m21n"
awk -v a="$m11" -v b="$m12" -v c="$m21" -v d="$m21n" 'BEGIN {
    printf "2 ranks x 1 thread vs 1 rank x 1 thread: %.2fx (efficiency %.0f%%; target >= 1.85x)\n", a / c, 50 * a / c
    printf "2 ranks x 1 thread vs 1 rank x 2 threads: %.2fx\n", b / c
    printf "overlap saves %.1f ms per step (%.1f%% of the step without it)\n", d - c, 100 * (d - c) / d
}'
