"""Writes examples/data/synthetic_eval_betabinomial.csv: a SYNTHETIC eval (model, gen_tokens,
problem, n, c) for trying scaleplan.fit_accuracy. It is not a measurement: at each (model,
length) every problem draws its success probability p ~ Beta(a, b) with the (a, b) of TRUTH
below and c ~ Binomial(n, p), 200 problems of n = 16 samples. Fitting it should recover TRUTH
within the bootstrap intervals (tests/test_fit_accuracy.py). Seeded, so the file is
reproducible:

    .venv/bin/python scripts/make_accuracy_fit_example.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

TRUTH = {
    ("qwen3-4b", 4096): (0.35, 0.90),
    ("qwen3-4b", 16384): (0.40, 0.45),
    ("qwen3-8b", 4096): (0.40, 0.70),
    ("qwen3-8b", 16384): (0.45, 0.25),
}
"""(a, b) of per-problem success at each (model, generation length)."""
PROBLEMS = 200
SAMPLES = 16


def main() -> None:
    rng = np.random.default_rng(7)
    out = (
        Path(__file__).resolve().parents[1]
        / "examples"
        / "data"
        / "synthetic_eval_betabinomial.csv"
    )
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "gen_tokens", "problem", "n", "c"])
        for (model, length), (a, b) in TRUTH.items():
            p = rng.beta(a, b, PROBLEMS)
            c = rng.binomial(SAMPLES, p)
            for i in range(PROBLEMS):
                w.writerow([model, length, f"q{i:03d}", SAMPLES, int(c[i])])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
