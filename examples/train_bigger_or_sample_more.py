"""Train a bigger model, or sample more from a smaller one?

One budget in GPU-hours pays for training a model and for serving a deployment of Q queries.
The joint planner chooses the model size N (over the Qwen3 family's architecture), training
tokens D, samples per query k and generation length L to maximise task accuracy. Three plans
for the same budget and deployment:

  1. one sample per query: k_max = 1, so the budget goes into a bigger or longer-trained
     model and one long answer;
  2. free choice: k up to 16, the planner trades model size against samples;
  3. small model, more samples: N capped at Qwen3-1.7B's size.

N counts FLOP parameters as Kinetics does (embeddings included: Qwen3-1.7B has 2.03B).

Accuracy chains the gadre2024-redpajama loss law (loss -> task accuracy at unlimited length)
with a saturation in L and pass@k; the saturation constants are assumptions (see `plan_joint`).

Run: .venv/bin/python examples/train_bigger_or_sample_more.py
"""

from __future__ import annotations

import scaleplan as sp

BUDGET_GPU_HOURS = 1e6
DEPLOYMENTS = [1e7, 1e9]  # queries served over the model's life
PROMPT_TOKENS = 512
HARDWARE = "h100-sxm"
SMALL = sp.model("qwen3-1.7b").flop_params

for queries in DEPLOYMENTS:
    common = {
        "budget": BUDGET_GPU_HOURS,
        "queries": queries,
        "prompt_tokens": PROMPT_TOKENS,
        "hardware": HARDWARE,
        "family": "qwen3-dense",
    }
    plans = {
        "one sample (k = 1)": sp.plan_joint(**common, k_max=1),
        "free choice, k <= 16": sp.plan_joint(**common),
        "small model (qwen3-1.7b)": sp.plan_joint(**common, max_params=SMALL),
    }
    print(
        f"{BUDGET_GPU_HOURS:,.0f} GPU-hours on {HARDWARE} for training + {queries:,.0f} queries "
        f"of {PROMPT_TOKENS} prompt tokens:"
    )
    print(
        f"  {'plan':<24} {'accuracy':>8} {'N':>7} {'D':>8} {'k':>3} {'L':>7} "
        f"{'training GPU-h':>15} {'serving GPU-h':>14} {'latency':>8}"
    )
    for name, p in plans.items():
        share = p.training_cost / p.total_cost
        print(
            f"  {name:<24} {p.accuracy:>8.1%} {p.params / 1e9:>6.2f}B {p.tokens / 1e12:>7.2f}T "
            f"{p.samples:>3.0f} {p.gen_tokens:>7,.0f} {p.training_cost:>9,.0f} ({share:3.0%}) "
            f"{p.inference_cost:>14,.0f} {p.latency_s:>7.0f}s"
        )
    best = max(plans, key=lambda n: plans[n].accuracy)
    gain = plans[best].accuracy - plans["one sample (k = 1)"].accuracy
    print(f"  -> best: {best}, {gain * 100:+.1f} accuracy points over one sample.\n")
