"""Writes examples/data/synthetic_eval.csv: a SYNTHETIC eval in the format an eval harness
writes (model, gen_tokens, problem, n, c), for trying Accuracy.measured. It is not a
measurement: each problem gets a fixed difficulty quantile u ~ U(0, 1); at each budget its
success probability is the u-quantile of the aime24-qwen3 beta preset's distribution for that
model and length, and c ~ Binomial(n, p). Seeded, so the file is reproducible:

    .venv/bin/python scripts/make_measured_example.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import scaleplan as sp
from scipy.stats import beta

MODELS = ["qwen3-1.7b", "qwen3-4b", "qwen3-8b"]
BUDGETS = [2048, 4096, 8192, 16384, 32768]
PROBLEMS = 30
SAMPLES = 16
KAPPA = 1.0


def main() -> None:
    rng = np.random.default_rng(0)
    quantiles = rng.uniform(0.0, 1.0, PROBLEMS)
    preset = sp.Accuracy.preset("aime24-qwen3")
    out = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_eval.csv"
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "gen_tokens", "problem", "n", "c"])
        for model in MODELS:
            for budget in BUDGETS:
                mean = float(preset(model, budget, 1))
                p = beta.ppf(quantiles, mean * KAPPA, (1 - mean) * KAPPA)
                correct = rng.binomial(SAMPLES, p)
                for i, c in enumerate(correct):
                    writer.writerow([model, budget, f"aime-{i:02d}", SAMPLES, int(c)])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
