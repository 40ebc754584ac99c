#!/usr/bin/env python3
"""The BYOL PyTorch reference: `reference_pytorch.py --method byol` (see that file's header for
what it mirrors). Kept so the commands in docs/byol-rankme.md keep working; the options are
reference_pytorch.py's (`--bn-mode`, `--predictor-lr-mult`, `--ema-base`, …).

  python3 Benchmarks/byol_reference_pytorch.py --epochs-to-run 1 --total-epochs 4 --seed 0
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_pytorch  # noqa: E402

if __name__ == "__main__":
    if any(a == "--method" or a.startswith("--method=") for a in sys.argv[1:]):
        sys.exit("byol_reference_pytorch.py: always BYOL; use reference_pytorch.py --method for the others")
    sys.argv[1:1] = ["--method", "byol"]
    reference_pytorch.main()
