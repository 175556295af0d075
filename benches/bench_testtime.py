"""Test-time plans, a 1,000-budget frontier and joint plans against scipy's differential
evolution (over the same objective, integer variables declared) and against brute-force grids,
in one run: time per plan, ratios and the objective gap (scaleplan minus baseline; >= 0 means
scaleplan is never worse).

Every time is the least of several runs (``REPEATS`` for scaleplan, ``BASELINE_REPEATS`` for the
baselines), scaleplan and its baseline measured in the same run: the machine may be shared, and
the least run is the least disturbed one."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scaleplan as sp
from scaleplan.joint import joint_problem
from scipy.optimize import differential_evolution

QWEN3 = ["qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b"]
ATTENTION: list[Any] = ["dense", ("topk", 1024), ("topk", 4096), ("block_topk", 2048, 16)]
K_MAX = 64
GEN = (256.0, 32768.0)
REPEATS = 5
BASELINE_REPEATS = 3


def least_time(f: Any, repeats: int) -> tuple[float, Any]:
    """The least wall time of ``repeats`` calls of ``f`` and the last call's result."""
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - start)
    return best, out


# The Kinetics convention: weight reads amortised over an unbounded batch, no prefill.
KINETICS = sp.Serving(batch="unset", prefill=False)


class TestTimeObjective:
    """Accuracy of (model, attention, k, L) within an eFLOPs budget, through the public API."""

    def __init__(self) -> None:
        self.acc = sp.Accuracy.preset("aime24-qwen3")

    def evaluate(
        self, m: np.ndarray, a: np.ndarray, k: np.ndarray, gen: np.ndarray, budget: float
    ) -> np.ndarray:
        out = np.zeros(m.shape)
        for mi in np.unique(m):
            for ai in np.unique(a):
                sel = (m == mi) & (a == ai)
                if not sel.any():
                    continue
                c = sp.inference_cost(
                    QWEN3[int(mi)],
                    "kinetics-b200",
                    prompt_tokens=128,
                    gen_tokens=gen[sel],
                    samples=k[sel],
                    attention=ATTENTION[int(ai)],
                    serving=KINETICS,
                )
                ok = c.feasible & (c.eflops <= budget)
                out[sel] = np.where(ok, self.acc(QWEN3[int(mi)], gen[sel], k[sel]), 0.0)
        return out

    def grid(self, budget: float, points: int) -> float:
        gens = np.geomspace(*GEN, points)
        ks = np.arange(1, K_MAX + 1, dtype=float)
        kk, gg = (x.ravel() for x in np.meshgrid(ks, gens))
        best = 0.0
        for mi in range(len(QWEN3)):
            for ai in range(len(ATTENTION)):
                m, a = np.full(kk.size, mi), np.full(kk.size, ai)
                best = max(best, float(self.evaluate(m, a, kk, gg, budget).max()))
        return best

    def grid_table(self, points: int) -> tuple[np.ndarray, np.ndarray]:
        """Every grid point's cost and accuracy, for a frontier from one evaluation."""
        gens = np.geomspace(*GEN, points)
        ks = np.arange(1, K_MAX + 1, dtype=float)
        kk, gg = (x.ravel() for x in np.meshgrid(ks, gens))
        costs, accs = [], []
        for model in QWEN3:
            for choice in ATTENTION:
                c = sp.inference_cost(
                    model,
                    "kinetics-b200",
                    prompt_tokens=128,
                    gen_tokens=gg,
                    samples=kk,
                    attention=choice,
                    serving=KINETICS,
                )
                costs.append(np.where(c.feasible, c.eflops, np.inf))
                accs.append(self.acc(model, gg, kk))
        return np.concatenate(costs), np.concatenate(accs)

    def scipy(self, budget: float, seed: int) -> float:
        def f(x: np.ndarray) -> np.ndarray:
            x = np.atleast_2d(x.T).T if x.ndim == 1 else x
            return -self.evaluate(x[0].round(), x[1].round(), x[2].round(), np.exp(x[3]), budget)

        bounds = [
            (0, len(QWEN3) - 1),
            (0, len(ATTENTION) - 1),
            (1, K_MAX),
            (math.log(GEN[0]), math.log(GEN[1])),
        ]
        res = differential_evolution(
            f,
            bounds,
            integrality=[True, True, True, False],
            seed=seed,
            vectorized=True,
            updating="deferred",
            polish=False,
            maxiter=200,
            popsize=20,
            tol=1e-8,
        )
        return float(-res.fun)


def bench_test_time(quick: bool) -> dict[str, Any]:
    obj = TestTimeObjective()
    budgets = np.logspace(13, 19, 4 if quick else 7)
    # warm caches
    sp.plan_test_time(budget_eflops=1e16, attention=ATTENTION, k_max=K_MAX, serving=KINETICS)
    ours_t, de_t, grid_t = [], [], []
    gaps_de, gaps_grid = [], []
    for i, b in enumerate(budgets):
        t, plan = least_time(
            lambda b=b: sp.plan_test_time(
                budget_eflops=float(b), attention=ATTENTION, k_max=K_MAX, serving=KINETICS
            ),
            REPEATS,
        )
        ours_t.append(t)
        t, de = least_time(lambda b=b, i=i: obj.scipy(float(b), seed=i), BASELINE_REPEATS)
        de_t.append(t)
        t, grid = least_time(
            lambda b=b: obj.grid(float(b), 128 if quick else 256), BASELINE_REPEATS
        )
        grid_t.append(t)
        reached = plan.accuracy if plan.feasible else 0.0  # no plan: NaN, reaches nothing
        gaps_de.append(reached - de)
        gaps_grid.append(reached - grid)
    return {
        "budgets": budgets.tolist(),
        "ours_s_per_plan": float(np.median(ours_t)),
        "ours_s_at_largest_budget": float(ours_t[-1]),
        "scipy_de_s_per_plan": float(np.median(de_t)),
        "grid_s_per_plan": float(np.median(grid_t)),
        "ratio_vs_scipy": float(np.median(de_t) / np.median(ours_t)),
        "ratio_vs_grid": float(np.median(grid_t) / np.median(ours_t)),
        "min_gap_vs_scipy": float(min(gaps_de)),
        "min_gap_vs_grid": float(min(gaps_grid)),
    }


def bench_frontier(quick: bool, per_plan_grid_s: float) -> dict[str, Any]:
    obj = TestTimeObjective()
    budgets = np.logspace(13, 19, 1000)
    ours, f = least_time(
        lambda: sp.frontier_test_time(
            budgets=budgets, attention=ATTENTION, k_max=K_MAX, serving=KINETICS
        ),
        BASELINE_REPEATS,
    )

    def shared_grid() -> np.ndarray:
        cost, acc = obj.grid_table(128 if quick else 256)
        order = np.argsort(cost)
        best = np.maximum.accumulate(acc[order])
        idx = np.searchsorted(cost[order], budgets, side="right") - 1
        return np.where(idx >= 0, best[np.maximum(idx, 0)], 0.0)

    shared_s, shared = least_time(shared_grid, BASELINE_REPEATS)
    return {
        "ours_s": ours,
        "naive_grid_s_extrapolated": per_plan_grid_s * budgets.size,
        "shared_grid_s": shared_s,
        "ours_fraction_of_naive_grid": ours / (per_plan_grid_s * budgets.size),
        "ours_fraction_of_shared_grid": ours / shared_s,
        # No plan at a budget (NaN accuracy) reaches nothing.
        "min_gap_vs_grid": float(np.min(np.where(f.plan.feasible, f.plan.accuracy, 0.0) - shared)),
    }


def bench_joint(quick: bool) -> dict[str, Any]:
    queries = 1e8
    problem = joint_problem(queries=queries, k_max=16)
    budgets = [1e4, 1e6] if quick else [1e4, 1e5, 1e6, 1e7]
    ours_t, de_t, grid_t, gaps_de, gaps_grid = [], [], [], [], []
    n_lo, n_hi = math.log(0.752e9), math.log(32.76e9)
    for i, b in enumerate(budgets):
        t, plan = least_time(
            lambda b=b: sp.plan_joint(budget=b, queries=queries, k_max=16), REPEATS
        )
        ours_t.append(t)

        def f(x: np.ndarray, b: float = b) -> np.ndarray:
            return -problem.evaluate(b, np.exp(x[0]), x[1].round(), np.exp(x[2]), 0)

        t, res = least_time(
            lambda f=f, i=i: differential_evolution(
                f,
                [(n_lo, n_hi), (1, 16), (math.log(256), math.log(32768))],
                integrality=[False, True, False],
                seed=i,
                vectorized=True,
                updating="deferred",
                polish=False,
                maxiter=200,
                popsize=20,
                tol=1e-10,
            ),
            BASELINE_REPEATS,
        )
        de_t.append(t)
        start = time.perf_counter()
        nn, kk, gg = (
            x.ravel()
            for x in np.meshgrid(
                np.exp(np.linspace(n_lo, n_hi, 60)),
                np.arange(1, 17.0),
                np.geomspace(256, 32768, 60),
            )
        )
        grid = float(problem.evaluate(b, nn, kk, gg, 0).max())
        grid_t.append(time.perf_counter() - start)
        reached = plan.accuracy if plan.feasible else 0.0  # no plan: NaN, reaches nothing
        gaps_de.append(reached - float(-res.fun))
        gaps_grid.append(reached - grid)
    return {
        "budgets_gpu_hours": budgets,
        "ours_s_per_plan": float(np.mean(ours_t)),
        "scipy_de_s_per_plan": float(np.mean(de_t)),
        "grid_s_per_plan": float(np.mean(grid_t)),
        "ratio_vs_scipy": float(np.mean(de_t) / np.mean(ours_t)),
        "ratio_vs_grid": float(np.mean(grid_t) / np.mean(ours_t)),
        "min_gap_vs_scipy": float(min(gaps_de)),
        "min_gap_vs_grid": float(min(gaps_grid)),
    }


def main(quick: bool = False) -> dict[str, Any]:
    tt = bench_test_time(quick)
    print(
        f"(least of {REPEATS} runs for scaleplan, {BASELINE_REPEATS} for each baseline, in the "
        "same run; the machine may be shared)"
    )
    print("plan_test_time: Qwen3 x 4 attention choices x k<=64 (kinetics-b200, eFLOPs)")
    print(
        f"  ours {tt['ours_s_per_plan'] * 1e3:.2f} ms/plan, scipy DE "
        f"{tt['scipy_de_s_per_plan'] * 1e3:.0f} ms/plan ({tt['ratio_vs_scipy']:.0f}x), grid "
        f"{tt['grid_s_per_plan'] * 1e3:.0f} ms/plan ({tt['ratio_vs_grid']:.0f}x); accuracy gap "
        f"vs scipy >= {tt['min_gap_vs_scipy']:.2e}, vs grid >= {tt['min_gap_vs_grid']:.2e}"
    )
    print(
        f"  at 1e19 eFLOPs: ours {tt['ours_s_at_largest_budget'] * 1e3:.2f} ms/plan "
        "(goal <= 0.3 ms)"
    )
    fr = bench_frontier(quick, tt["grid_s_per_plan"])
    print("frontier_test_time: 1,000 budgets")
    print(
        f"  ours {fr['ours_s']:.2f} s = {fr['ours_fraction_of_naive_grid']:.2%} of the "
        f"per-budget grid ({fr['naive_grid_s_extrapolated']:.0f} s, extrapolated) and "
        f"{fr['ours_fraction_of_shared_grid']:.0%} of a grid evaluated once and shared "
        f"({fr['shared_grid_s']:.2f} s); accuracy gap vs grid >= {fr['min_gap_vs_grid']:.2e}"
    )
    jt = bench_joint(quick)
    print("plan_joint: qwen3-dense on h100-sxm, 1e8 queries, k<=16 (GPU-hours)")
    print(
        f"  ours {jt['ours_s_per_plan'] * 1e3:.0f} ms/plan, scipy DE "
        f"{jt['scipy_de_s_per_plan'] * 1e3:.0f} ms/plan ({jt['ratio_vs_scipy']:.1f}x), grid "
        f"{jt['grid_s_per_plan'] * 1e3:.0f} ms/plan ({jt['ratio_vs_grid']:.1f}x); accuracy gap "
        f"vs scipy >= {jt['min_gap_vs_scipy']:.2e}, vs grid >= {jt['min_gap_vs_grid']:.2e}"
    )
    return {"test_time": tt, "frontier": fr, "joint": jt}
