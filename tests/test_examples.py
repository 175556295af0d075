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
    # Parallel streams win where decode reads the weights for few sequences, lose at large batch.
    "parallel_streams.py": [
        "batch 1, latency",
        "-> streams win: P = 8",
        "batch 64, GPU-seconds",
        "-> one stream wins: P = 1",
    ],
    # The tools' price changes which model and tool budget is cheapest.
    "tool_budget.py": [
        "Cheapest agent reaching 45% accuracy",
        "synthetic table",
        "tools at the paper's $0.001 per call",
        "search at $0.01 per call",
        "-> qwen3-32b, tool budget 25",
        "(binding: measured_table)",
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
    # Algorithmic progress (Ho et al. 2024) changes the decision: the budget misses the target
    # now and reaches it in six months at the central estimate, not at the slow end.
    "train_now_or_later.py": [
        "train now",
        "train in 6 months",
        "each FLOP is worth 1.6368 of today's",
        "-> decision: wait 6 months if you trust the central estimate",
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
