"""How many GPUs of which kind serve Q queries a day at a target accuracy within a latency SLO?

For each GPU type, find the smallest per-query budget in replica-seconds (the GPU time charged to
one query: its share of a batched decode) at which the test-time planner reaches the target
accuracy within the latency limit, trying a few batch sizes. The planner picks the model, the
samples per query and the generation length. Then

    GPUs = Q x seconds per query x GPUs per replica / 86,400 s.

Accuracy is what a deployment delivers: the shipped aime24-qwen3 preset aggregated by majority
vote over the k samples (no verifier). Coverage (pass@k) would count a query as solved when any
sample is right, which needs a perfect verifier to pick it: an upper bound on what deploys, and
sizing a fleet on it would buy fewer GPUs than the target needs.

Assumptions: replicas stay busy all day at the planned batch (no idle time, no peaks), each
replica serves from one GPU, hardware efficiencies are the catalog's planning assumptions.

Run: .venv/bin/python examples/size_deployment.py
"""

from __future__ import annotations

import math

import numpy as np
import scaleplan as sp

QUERIES_PER_DAY = 1_000_000
TARGET_ACCURACY = 0.60  # majority vote; the preset's models reach ~63% within the SLO
ACCURACY = sp.Accuracy.preset("aime24-qwen3", aggregator="majority")  # deployable, no verifier
LATENCY_SLO_S = 120.0
PROMPT_TOKENS = 512
HARDWARE = ["h100-sxm", "h200", "b200", "mi300x"]
BATCHES = [8, 32, 128]  # sequences decoded together on a replica (capped by memory)
GPUS_PER_REPLICA = 1
SECONDS_PER_DAY = 86_400


def plan(hardware: str, batch: int, seconds: float | np.ndarray) -> sp.TestTimePlan:
    """The most accurate configuration within ``seconds`` of replica time per query."""
    return sp.plan_test_time(
        budget_seconds=seconds,
        hardware=hardware,
        family="qwen3-dense",
        prompt_tokens=PROMPT_TOKENS,
        latency_slo_s=LATENCY_SLO_S,
        serving=sp.Serving(batch=batch, gpus=GPUS_PER_REPLICA),
        accuracy=ACCURACY,
    )


def cheapest(hardware: str, batch: int) -> sp.TestTimePlan | None:
    """The smallest budget reaching the target: a log grid (one call), then bisection."""
    grid = np.logspace(-2, 3, 51)  # 10 ms to 1000 s per query
    p = plan(hardware, batch, grid)
    reached = np.flatnonzero(p.feasible & (p.accuracy >= TARGET_ACCURACY))
    if reached.size == 0:
        return None  # not reachable within the latency SLO at this batch
    hi = float(grid[reached[0]])
    lo = float(grid[reached[0] - 1]) if reached[0] > 0 else hi / 10
    for _ in range(40):  # accuracy never falls as the budget grows
        mid = math.sqrt(lo * hi)
        if plan(hardware, batch, mid).accuracy >= TARGET_ACCURACY:
            hi = mid
        else:
            lo = mid
    return plan(hardware, batch, hi)


print(
    f"GPUs to serve {QUERIES_PER_DAY:,} queries a day of {PROMPT_TOKENS} prompt tokens, "
    f"accuracy >= {TARGET_ACCURACY:.0%} on {ACCURACY.task} by {ACCURACY.aggregator} vote "
    f"(deployable: no verifier), latency <= {LATENCY_SLO_S:.0f} s, "
    f"{GPUS_PER_REPLICA} GPU per replica, replicas busy all day.\n"
)
header = ("hardware", "model", "k", "gen tokens", "batch", "GPU-s/query", "latency", "GPUs")
rows = []
for hw in HARDWARE:
    found = [(b, p) for b in BATCHES if (p := cheapest(hw, b)) is not None]
    if not found:
        rows.append((hw, "out of reach", "", "", "", "", "", ""))
        continue
    batch, best = min(found, key=lambda bp: float(bp[1].seconds))
    # The batch actually used (the planner caps it by the memory left beside the weights).
    used = sp.inference_cost(
        str(best.model),
        hw,
        prompt_tokens=PROMPT_TOKENS,
        gen_tokens=float(best.gen_tokens),
        samples=float(best.samples),
        serving=sp.Serving(batch=batch, gpus=GPUS_PER_REPLICA),
    ).batch
    gpu_seconds = float(best.seconds) * GPUS_PER_REPLICA
    gpus = math.ceil(QUERIES_PER_DAY * gpu_seconds / SECONDS_PER_DAY)
    rows.append(
        (
            hw,
            str(best.model),
            f"{best.samples:.0f}",
            f"{best.gen_tokens:,.0f}",
            f"{float(used):.0f}",
            f"{gpu_seconds:.2f}",
            f"{best.latency_s:.0f} s",
            f"{gpus:,}",
        )
    )

widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
for r in [header, tuple("-" * w for w in widths), *rows]:
    print(
        "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
    )
cheapest_hw = min((r for r in rows if r[7]), key=lambda r: int(r[7].replace(",", "")))
print(f"\nFewest GPUs: {cheapest_hw[7]} x {cheapest_hw[0]} serving {cheapest_hw[1]}.")
