"""The scripts in examples/ run as they are and print their answer."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_support import REPO

EXAMPLES = {
    # Farseer's numeric optimum, and the budget past its domain that gets no plan.
    "farseer_allocation.py": [
        "hoffmann2022",
        "farseer2025",
        "outside the law's domain",
        "-> under farseer2025 the optimal tokens per parameter go from",
    ],
    # A fleet is sized on what deploys: majority vote, not coverage (pass@k needs a verifier).
    "size_deployment.py": [
        "GPUs to serve 1,000,000 queries a day",
        "on aime24 by majority vote (deployable: no verifier)",
        "h100-sxm",
        "h200",
        "b200",
        "mi300x",
        "Fewest GPUs:",
    ],
    "train_bigger_or_sample_more.py": [
        "one sample (k = 1)",
        "free choice, k <= 16",
        "small model (qwen3-1.7b)",
        "-> best:",
    ],
    # Plans under uncertainty: a fit on labelled synthetic runs, a band, a probability.
    "plan_with_uncertainty.py": [
        "SYNTHETIC runs: LawFit(n=80",
        "Band over 400 bootstrap samples (P10 / P50 / P90):",
        "Probability of reaching loss 2.15:",
        "committing to this plan (fixed plan):",
    ],
    # The budget type (tokens, eFLOPs, latency) changes the RAG decision.
    "rag_budget.py": [
        "context budget 128k tokens",
        "eFLOPs budget 1e15 per query",
        "latency budget 2 s per query",
        "binding: context_budget",
        "binding: budget",
        "binding: latency",
        "-> the budget type changes the decision: 3 different plans of 3.",
    ],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name: str) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / name)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    for line in EXAMPLES[name]:
        assert line in out.stdout, line
    assert out.stderr == ""
