"""Training and lifetime planners against scipy.optimize.minimize and, for training, the closed
form in numpy, on the same problems in one run. scipy runs on a sample and its time is
extrapolated per call; every sampled scipy optimum is compared with scaleplan's."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scaleplan as sp
from scipy.optimize import minimize


def _timed(fn: Any, repeats: int = 3) -> tuple[float, Any]:
    """Best of `repeats` runs (the first pays page faults for fresh output arrays)."""
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_training(n: int, sample: int) -> dict[str, Any]:
    law = sp.law("besiroglu2024")
    e, a, b, al, be = law.E, law.A, law.B, law.alpha, law.beta
    budgets = np.logspace(18, 27, n)

    t_rust, plan = _timed(lambda: sp.plan_training(budget_flops=budgets, law=law))

    def closed_form() -> Any:
        g = (al * a / (be * b)) ** (1 / (al + be))
        params = g * (budgets / 6) ** (be / (al + be))
        tokens = budgets / (6 * params)
        return e + a / params**al + b / tokens**be

    t_numpy, _ = _timed(closed_form)
    np.testing.assert_allclose(closed_form(), plan.loss, rtol=1e-12)

    idx = np.linspace(0, n - 1, sample).astype(int)
    worst_gap = -math.inf
    start = time.perf_counter()
    for i in idx:
        c = budgets[i]

        def loss(x: np.ndarray, c: float = c) -> float:
            params = math.exp(x[0])
            return e + a / params**al + b / (c / (6 * params)) ** be

        res = minimize(loss, x0=[math.log(c / 6) / 2], method="L-BFGS-B")
        worst_gap = max(worst_gap, (plan.loss[i] - res.fun) / res.fun)
    t_scipy = (time.perf_counter() - start) / sample * n
    return {
        "n": n,
        "binding_s": t_rust,
        "binding_per_call_s": t_rust / n,
        "numpy_closed_form_s": t_numpy,
        "scipy_per_call_s": t_scipy / n,
        "scipy_extrapolated_s": t_scipy,
        "ratio_vs_scipy": t_scipy / t_rust,
        "ratio_vs_numpy": t_numpy / t_rust,
        "worst_relative_gap_vs_scipy": worst_gap,
    }


def bench_lifetime(n: int, sample: int) -> dict[str, Any]:
    law = sp.law("sardana2023")
    e, a, b, al, be = law.E, law.A, law.B, law.alpha, law.beta
    rng = np.random.default_rng(1)
    targets = rng.uniform(2.0, 2.6, n)
    queries = 10 ** rng.uniform(6, 12, n)
    prompt, gen = 512.0, 1024.0

    t_rust, plan = _timed(
        lambda: sp.plan_lifetime(
            target_loss=targets, queries=queries, prompt_tokens=prompt, gen_tokens=gen, law=law
        )
    )
    assert plan.feasible.all()
    idx = np.linspace(0, n - 1, sample).astype(int)
    worst_gap = -math.inf
    start = time.perf_counter()
    for i in idx:
        target, q = targets[i], queries[i]
        x_min = math.log(a / (target - e)) / al

        def total(x: np.ndarray, target: float = target, q: float = q) -> float:
            params = math.exp(x[0])
            room = target - e - a / params**al
            if room <= 0:
                return math.inf
            tokens = (b / room) ** (1 / be)
            return 6 * params * tokens + q * 2 * params * (prompt + gen)

        # Start from the training-only optimum of the same loss, as a user would.
        x0 = math.log(sp.plan_training(target_loss=float(target), law=law).params)
        res = minimize(total, x0=[x0], method="L-BFGS-B", bounds=[(x_min + 1e-9, x_min + 25)])
        worst_gap = max(worst_gap, (plan.total_cost[i] - res.fun) / res.fun)
    t_scipy = (time.perf_counter() - start) / sample * n
    return {
        "n": n,
        "binding_s": t_rust,
        "binding_per_call_s": t_rust / n,
        "scipy_per_call_s": t_scipy / n,
        "ratio_vs_scipy": t_scipy / t_rust,
        "worst_relative_gap_vs_scipy": worst_gap,
    }


def main(quick: bool = False) -> dict[str, Any]:
    training = bench_training(100_000 if quick else 1_000_000, 50 if quick else 300)
    print("plan_training (besiroglu2024, budgets 1e18..1e27)")
    print(
        f"  {training['n']:,} plans: binding {training['binding_per_call_s'] * 1e9:.0f} ns/plan,"
        f" numpy closed form {training['numpy_closed_form_s'] / training['n'] * 1e9:.0f} ns/plan"
        f", scipy.optimize.minimize {training['scipy_per_call_s'] * 1e6:.0f} us/plan"
    )
    print(
        f"  ratio vs scipy {training['ratio_vs_scipy']:,.0f}x, vs numpy closed form "
        f"{training['ratio_vs_numpy']:.2f}x; worst relative loss gap (ours - scipy) "
        f"{training['worst_relative_gap_vs_scipy']:.2e}"
    )
    lifetime = bench_lifetime(2_000 if quick else 10_000, 50 if quick else 200)
    print("plan_lifetime (sardana2023, 2N FLOPs/token, targets 2.0..2.6, 1e6..1e12 queries)")
    print(
        f"  {lifetime['n']:,} plans: binding {lifetime['binding_per_call_s'] * 1e6:.1f} us/plan,"
        f" scipy.optimize.minimize {lifetime['scipy_per_call_s'] * 1e6:.0f} us/plan; ratio "
        f"{lifetime['ratio_vs_scipy']:,.0f}x; worst relative cost gap (ours - scipy) "
        f"{lifetime['worst_relative_gap_vs_scipy']:.2e}"
    )
    return {"training": training, "lifetime": lifetime}
