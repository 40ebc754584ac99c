#!/usr/bin/env bash
# Learning checks that can fail (issue 15). Each recipe trains for one to two minutes on a slice
# of the built-in dataset (release build, fixed seed) and must
#   1. beat the kNN accuracy of the same encoder at initialisation by a margin, and
#   2. not collapse: a centred effective rank (the recipe's `effective-rank` line) of at least a
#      quarter of the embedding dimension (an eighth for BYOL, see below).
# The baseline is the same recipe with `--epochs 0`: no training, the final lines of the initial
# encoder (the same seed gives the same initial weights). The smoke tests (Tests/RecipeSmokeTests)
# only check that the recipes run; this turns red when a change breaks a method's learning.
#
#   Benchmarks/learning_checks.sh                   # all five recipes (release build in .build)
#   Benchmarks/learning_checks.sh vicreg byol       # some of them
#   SCRATCH_PATH=.build-methods Benchmarks/learning_checks.sh
#   SKIP_BUILD=1 ...                                # the binaries already built
#   SEED=1 ...                                      # another seed (the margins were set on 0, 1, 2)
#   EXTRA_OPTIONS="--ema-base 1 --ema-final 1" Benchmarks/learning_checks.sh byol
#                                                   # appended to the training run (a frozen teacher: fails)
#
# A script, not an XCTest behind an environment variable: the checks need the recipes built in
# release mode (debug is about ten times slower), and `swift test -c release` would build the
# whole test suite again in release; here only the four executables are built, and what is read
# is the recipes' public output, as a user sees it.
#
# Every check: --dataset builtin, ConvNet (128 features), the first 2048 training and 1000 test
# images, the recipe's defaults otherwise. Measured on the 2-core VM (release, December 2026),
# seeds 0 / 1 / 2: kNN at initialisation 0.324 / 0.311 / 0.359, then per recipe the kNN gain
# over it, the centred effective rank, and the seconds of the training run (seed 0; the cores
# shared with other builds; the whole script took 5 min 21 s after the build):
#   simclr       6 epochs, batch 128, lr 1e-3     +0.244 / +0.281 / +0.224   43.9 / 46.0 / 43.4    43 s
#   vicreg       6 epochs, batch 128, lr 1e-3     +0.261 / +0.250 / +0.208   45.4 / 43.3 / 42.7    51 s
#   barlowtwins  6 epochs, batch 128, lr 5e-4     +0.170 / +0.206 / +0.115   47.2 / 45.3 / 46.0    78 s
#   byol         14 epochs, batch 64, lr 3e-4,    +0.182 / +0.166 / +0.100   39.9 / 31.0 / 33.4   139 s
#                EMA 0.9 → 0.99
#   mocov3       10 epochs, batch 128, lr 5e-4,   +0.187 / +0.237 / +0.161   52.1 / 52.3 / 50.2   350 s†
#                momentum 0.9 → 0.99
# († measured later, on cores shared with other jobs at a load of about 10: 170 s of CPU time,
# about twice SimCLR's per step: two encoders and deeper heads.)
# On an AMD EPYC VM (AVX2 kernels, other rounding, so another trajectory), seed 0: simclr
# +0.263, effective rank 43.7.
# Each margin is about half the smallest gain measured, so that a healthy run on another CPU
# (other rounding: another trajectory) keeps room, and a run that learns nothing (gain 0) fails.
# The learning rates are the ones that learned fastest without losing rank in one to two minutes:
# at the recipes' default 2e-3, in 96 steps VICReg gained at most +0.07 and BYOL nothing, and the
# ranks of VICReg, Barlow Twins and BYOL fell to 10–26 (ranks dip early and recover slowly).
# BYOL is the slow one: its EMA teacher, the encoder evaluated, lags the student. Of about 20
# settings tried on seed 0 (lr 3e-4…5e-3, batch 64…256, EMA from 0 to 0.996, LARS, SGD, 3 to 20
# epochs), those that gained kNN ended at ranks 12–29, except lr 3e-4 with EMA 0.9 → 0.99
# (42.1 after 10 epochs); on seeds 1 and 2 that one ends at ranks 29.4 and 32.0 after 10
# epochs, 31.0 and 33.4 after 14. Healthy BYOL runs straddle 128/4 here, so its floor is
# 128/8 = 16, and it gets 14 epochs (448 steps) for its kNN gain.
# MoCo v3 at its defaults' momentum (0.99 → 1) gained +0.13 in 6 epochs at lr 1e-3 with rank 26.8;
# lr 2e-3 ended at rank 16.3; momentum 0.9 → 0.99 at lr 1e-3 gave +0.214 and rank 32.3 in 10
# epochs; lr 5e-4 kept the rank near 50.
# Broken on purpose (seed 0): NT-Xent with its sign flipped ends at kNN +0.055 and rank 9.75
# (fails both); a frozen BYOL teacher (EXTRA_OPTIONS above) at kNN −0.053 (its BatchNorm
# statistics still follow the batches); VICReg with invariance only (--variance-weight 0
# --covariance-weight 0) at kNN −0.087 and rank 5.86; MoCo v3 with its InfoNCE's sign flipped
# (AMD EPYC) at kNN −0.100 and rank 8.29 (the same build unflipped: +0.188, rank 52.4, passes).
# DINO has no check: on this slice every setting tried lost kNN against initialisation (seed 0,
# 6 epochs, batch 128, lr 1e-3: 0.299 against 0.325 at the defaults, 0.255 without BatchNorm in
# the head; the teacher at 0.04, EMA 0.9 → 0.99, 1 024 prototypes, 2 local crops, 8 to 20 epochs
# did no better). Its outputs start uniform (loss ≈ log K) and leave it over hundreds of steps
# on Fashion-MNIST; here it has about a hundred.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRATCH_PATH=${SCRATCH_PATH:-.build}
SEED=${SEED:-0}
ALL=(simclr byol vicreg barlowtwins mocov3)
RECIPES=("$@")
[ ${#RECIPES[@]} -eq 0 ] && RECIPES=("${ALL[@]}")

COMMON=(--dataset builtin --backbone convnet --train-samples 2048 --test-samples 1000 --seed "$SEED"
        --workers 2 --no-progress-bar --checkpoint-every-steps 0)

# Per recipe: training options | kNN margin over initialisation | divisor of the rank floor.
settings_for() {
    case "$1" in
        simclr) echo "--epochs 6 --batch-size 128 --lr 1e-3|0.10|4" ;;
        vicreg) echo "--epochs 6 --batch-size 128 --lr 1e-3|0.10|4" ;;
        barlowtwins) echo "--epochs 6 --batch-size 128 --lr 5e-4|0.06|4" ;;
        byol) echo "--epochs 14 --batch-size 64 --lr 3e-4 --ema-base 0.9 --ema-final 0.99|0.05|8" ;;
        mocov3) echo "--epochs 10 --batch-size 128 --lr 5e-4 --ema-base 0.9 --ema-final 0.99|0.08|4" ;;
        *) return 1 ;;
    esac
}
for recipe in "${RECIPES[@]}"; do
    settings_for "$recipe" >/dev/null || { echo "learning_checks.sh: unknown recipe $recipe (known: ${ALL[*]})" >&2; exit 2; }
done

if [ -z "${SKIP_BUILD:-}" ]; then
    for recipe in "${RECIPES[@]}"; do
        swift build -c release --scratch-path "$SCRATCH_PATH" --product "$recipe"
    done
fi
BIN=$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ssl-learning-checks.XXXXXX")
trap 'rm -rf "$RUN_DIR"' EXIT

# value NAME OUTPUT: the number on the output line `NAME <number>`.
value() { awk -v name="$1" '$1 == name { print $2 }' <<<"$2" | tail -n 1; }

failures=0
summary=()
for recipe in "${RECIPES[@]}"; do
    IFS='|' read -r options margin divisor <<<"$(settings_for "$recipe")"
    read -r -a extra <<<"$options ${EXTRA_OPTIONS:-}"
    echo "== $recipe: ${extra[*]}"

    if ! init_output=$("$BIN/$recipe" "${COMMON[@]}" --epochs 0 --run-dir "$RUN_DIR/init" 2>&1); then
        echo "$init_output"; echo "FAIL $recipe: the evaluation at initialisation did not run"
        failures=$((failures + 1)); summary+=("$recipe: FAIL (no evaluation at initialisation)"); continue
    fi
    start=$(date +%s)
    if ! output=$("$BIN/$recipe" "${COMMON[@]}" "${extra[@]}" --run-dir "$RUN_DIR/trained" 2>&1); then
        echo "$output"; echo "FAIL $recipe: the training run did not finish"
        failures=$((failures + 1)); summary+=("$recipe: FAIL (the training run did not finish)"); continue
    fi
    seconds=$(( $(date +%s) - start ))

    init_knn=$(value knn-accuracy "$init_output")
    knn=$(value knn-accuracy "$output")
    rank=$(value effective-rank "$output")
    features=$(grep -o '"features" *: *"[0-9]*"' "$RUN_DIR/trained/$recipe/version_0/hparams.json" | grep -o '[0-9][0-9]*' || true)
    if [ -z "$init_knn" ] || [ -z "$knn" ] || [ -z "$rank" ] || [ -z "$features" ]; then
        echo "$output"; echo "FAIL $recipe: no knn-accuracy, effective-rank or features to read"
        failures=$((failures + 1)); summary+=("$recipe: FAIL (nothing to read)"); continue
    fi

    verdict=$(awk -v init="$init_knn" -v knn="$knn" -v margin="$margin" -v rank="$rank" -v features="$features" \
                  -v divisor="$divisor" 'BEGIN {
        problems = ""
        if (knn < init + margin)
            problems = problems sprintf(" kNN %.4f is not %.2f above %.4f at initialisation;", knn, margin, init)
        if (rank < features / divisor)
            problems = problems sprintf(" effective rank %.2f is below %d/%d = %g (collapse);", rank, features, divisor, features / divisor)
        print (problems == "" ? "PASS" : "FAIL" problems)
    }')
    line=$(printf '%-12s kNN %s at init, %s trained (needs +%s)  effective rank %s of %s (needs >= %s)  %ss  %s' \
        "$recipe" "$init_knn" "$knn" "$margin" "$rank" "$features" "$((features / divisor))" "$seconds" "$verdict")
    echo "$line"
    summary+=("$line")
    [[ "$verdict" == PASS ]] || failures=$((failures + 1))
done

echo
echo "learning checks (seed $SEED):"
printf '  %s\n' "${summary[@]}"
if [ "$failures" -gt 0 ]; then
    echo "learning checks: $failures of ${#RECIPES[@]} failed"
    exit 1
fi
echo "learning checks: all ${#RECIPES[@]} passed"
