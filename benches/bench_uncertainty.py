"""Plans under uncertainty (docs/uncertainty.md): 1,000 bootstrap samples x 100 budgets of
lifetime plans (inference priced at 2N FLOPs per token) in one call, against the baseline a user
would write without it, a Python loop calling ``plan_lifetime`` once per sample's law (each call
solving the 100 budgets in Rust), in the same run. Goal: under 1 s. The loop's plans must equal
the batched ones (to 1e-12 relative) and the quantiles numpy's.

The samples come from a real bootstrap: ``fit_law`` on 240 runs drawn from besiroglu2024 with 2%
log-normal noise, 1,000 refits. benches/run.py pins one core for numpy and for rayon
(RAYON_NUM_THREADS=1) unless set; the samples are then planned on that one core."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

import numpy as np
import scaleplan as sp
from scaleplan.fit import KEYS

DEMAND = {"queries": 1e10, "prompt_tokens": 512.0, "gen_tokens": 256.0}


def _timed(fn: Any, repeats: int) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(quick: bool = False) -> dict[str, Any]:
    runs, boots, n_budgets = 240, 200 if quick else 1000, 100
    rng = np.random.default_rng(0)
    n = 10 ** rng.uniform(7.0, 10.0, runs)
    d = 10 ** rng.uniform(9.0, 12.0, runs)
    y = sp.law("besiroglu2024").loss(n, d) * np.exp(rng.normal(0.0, 0.02, runs))
    fit = sp.fit_law(n, d, y, bootstrap=boots, seed=1)
    budgets = np.geomspace(1e21, 1e25, n_budgets)

    def batched() -> sp.LifetimePlan:
        return sp.plan_lifetime(budget=budgets, law=fit, reach_loss=2.1, **DEMAND)

    batched()  # warm-up
    ours, plan = _timed(batched, 1 if quick else 3)
    point_only, _ = _timed(
        lambda: sp.plan_lifetime(budget=budgets, law=fit.law, **DEMAND), 1 if quick else 3
    )

    laws = [
        dataclasses.replace(fit.law, **dict(zip(KEYS, (float(v) for v in row), strict=True)))
        for row in fit.samples
    ]
    start = time.perf_counter()
    loop = [sp.plan_lifetime(budget=budgets, law=law, **DEMAND) for law in laws]
    baseline = time.perf_counter() - start

    u = plan.uncertainty
    assert u is not None
    for name in ("params", "tokens", "loss", "total_cost"):
        values = np.array([getattr(p, name) for p in loop])
        np.testing.assert_allclose(u.per_sample[name], values, rtol=1e-12, atol=0)
        np.testing.assert_allclose(
            u.bands[name], np.nanquantile(values, sp.QUANTILES, axis=0), rtol=1e-12, atol=0
        )
    threads = os.environ.get("RAYON_NUM_THREADS", "all cores")
    result = {
        "samples": len(fit.samples),
        "budgets": n_budgets,
        "plans": len(fit.samples) * n_budgets,
        "rayon_threads": threads,
        "ours_s": ours,
        "point_plan_only_s": point_only,
        "python_loop_s": baseline,
        "ratio_vs_python_loop": baseline / ours,
        "goal_s": 1.0,
        "meets_goal": ours < 1.0,
    }
    print(
        f"plans under uncertainty ({len(fit.samples)} bootstrap samples x {n_budgets} budgets "
        f"of lifetime plans, 2N pricing, rayon threads: {threads})"
    )
    print(
        f"  scaleplan (one call, with quantiles and probabilities) {ours:.3f} s "
        f"(goal < 1 s: {'met' if ours < 1.0 else 'NOT met'}); the point plan alone "
        f"{point_only * 1e3:.1f} ms"
    )
    print(
        f"  Python loop over the samples calling plan_lifetime {baseline:.2f} s; ratio "
        f"{baseline / ours:.1f}x; per-sample plans and quantiles agree to 1e-12"
    )
    return result


if __name__ == "__main__":
    main()
