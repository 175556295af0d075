"""Benchmarks, one command: ``make bench`` (or ``python benches/run.py``).

Each benchmark runs scaleplan and a baseline on the same problem in the same run, checks that
they agree, and reports rates and their ratio. Results are printed and written to
bench-results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# One core for every library, set before numpy (and scaleplan's rayon pool) is first loaded.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cost  # noqa: E402
import bench_fit  # noqa: E402
import bench_grpc  # noqa: E402
import bench_plan  # noqa: E402
import bench_sweep  # noqa: E402
import bench_testtime  # noqa: E402
import bench_uncertainty  # noqa: E402

BENCHES = {
    "cost": bench_cost.main,
    "plan": bench_plan.main,
    "testtime": bench_testtime.main,
    "fit": bench_fit.main,
    "sweep": bench_sweep.main,
    "grpc": bench_grpc.main,
    "uncertainty": bench_uncertainty.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = parser.parse_args()
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    for name in args.names or BENCHES:
        result = BENCHES[name](quick=args.quick)
        (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    # One core for numpy's baseline too (elementwise numpy is single-threaded; BLAS is unused).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
