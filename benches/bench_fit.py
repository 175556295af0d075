"""fit_law against the same method in scipy, on the same runs in one run: 240 runs drawn from
besiroglu2024 with 2% log-normal noise, the point fit (the 32 best points of the 4,500-point
grid, L-BFGS from each, best kept) plus 1,000 bootstrap refits warm-started from it, on one
core (RAYON_NUM_THREADS=1, set by benches/run.py before numpy is imported).

scipy: the same objective (sum of Huber on log loss, written in numpy with its analytic
gradient), the same grid and starts, scipy.optimize.minimize(method="L-BFGS-B"); its bootstrap
runs on a sample of refits and its time is extrapolated to 1,000. The point fits are checked to
agree.

The `chinchilla` package (PyPI, 0.2.0) fits the same runs in the same run, in its own environment
(.venv-peers, from benches/requirements-peers.txt, which `make bench` installs: it needs pandas,
seaborn, pydantic, rich and ruamel.yaml, which this project does not): benches/peer_chinchilla.py,
Huber (1e-3) on log loss, BFGS from each point of a 3^5 subset of the paper's grid (the full
4,500-point grid from every point takes minutes). It offers no bootstrap: its 1,000 refits are
extrapolated from its point fit's time. Both wall and CPU seconds are reported (the machine may
be loaded)."""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scaleplan as sp
from scipy.optimize import minimize

Arr = npt.NDArray[np.float64]
DELTA = 1e-3
PEERS_PYTHON = Path(__file__).resolve().parents[1] / ".venv-peers" / "bin" / "python"
# A 3^5 subset of the initialisation grid of Hoffmann et al. 2022 (log parametrisation).
CHINCHILLA_GRID = {
    "e": [-1.0, 0.0, 1.0],
    "a": [0.0, 10.0, 20.0],
    "b": [0.0, 10.0, 20.0],
    "alpha": [0.0, 1.0, 2.0],
    "beta": [0.0, 1.0, 2.0],
}


def chinchilla_package(n: Arr, d: Arr, y: Arr) -> dict[str, Any]:
    """The `chinchilla` package's fit of the same runs (benches/peer_chinchilla.py in
    .venv-peers), or why it did not run."""
    if not PEERS_PYTHON.exists():
        return {"not_run": f"{PEERS_PYTHON} missing: `make bench` installs it"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        columns = zip(n.tolist(), d.tolist(), y.tolist(), strict=True)
        rows = "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in columns)
        path.write_text("params,tokens,loss\n" + rows)
        script = Path(__file__).resolve().parent / "peer_chinchilla.py"
        out = subprocess.run(
            [str(PEERS_PYTHON), str(script), str(path), json.dumps(CHINCHILLA_GRID)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
    if out.returncode != 0:
        return {"not_run": f"failed: {out.stderr.strip()[-500:]}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def objective(theta: Arr, ln_n: Arr, ln_d: Arr, ln_y: Arr, w: Arr) -> tuple[float, Arr]:
    a, b, e, alpha, beta = theta
    t = np.stack([a - alpha * ln_n, b - beta * ln_d, np.full_like(ln_n, e)])
    m = t.max(axis=0)
    p = np.exp(t - m)
    s = p.sum(axis=0)
    r = m + np.log(s) - ln_y
    p /= s
    ar = np.abs(r)
    f = float((w * np.where(ar <= DELTA, 0.5 * r * r, DELTA * (ar - 0.5 * DELTA))).sum())
    psi = w * np.clip(r, -DELTA, DELTA)
    g = np.array(
        [
            (psi * p[0]).sum(),
            (psi * p[1]).sum(),
            (psi * p[2]).sum(),
            -(psi * p[0] * ln_n).sum(),
            -(psi * p[1] * ln_d).sum(),
        ]
    )
    return f, g


def grid_starts(ln_n: Arr, ln_d: Arr, ln_y: Arr, k: int = 32) -> list[Arr]:
    es = np.arange(-1.0, 1.01, 0.5)
    ab = np.arange(0.0, 25.1, 5.0)
    ex = np.arange(0.0, 2.01, 0.5)
    starts, scores = [], []
    for a in ab:
        for al in ex:
            u1 = np.exp(a - al * ln_n)
            for b in ab:
                for be in ex:
                    u2 = np.exp(b - be * ln_d)
                    for e in es:
                        r = np.log(u1 + u2 + math.exp(e)) - ln_y
                        ar = np.abs(r)
                        f = np.where(ar <= DELTA, 0.5 * r * r, DELTA * (ar - 0.5 * DELTA)).sum()
                        scores.append(f)
                        starts.append(np.array([a, b, e, al, be]))
    order = np.argsort(np.array(scores), kind="stable")[:k]
    return [starts[i] for i in order]


def scipy_fit(ln_n: Arr, ln_d: Arr, ln_y: Arr, w: Arr, starts: list[Arr]) -> Any:
    best = None
    for s in starts:
        r = minimize(objective, s, args=(ln_n, ln_d, ln_y, w), jac=True, method="L-BFGS-B")
        if best is None or r.fun < best.fun:
            best = r
    return best


def main(quick: bool = False) -> dict[str, Any]:
    runs, boots = 240, 1000
    sample = 20 if quick else 100
    rng = np.random.default_rng(0)
    n = 10 ** rng.uniform(7.0, 10.0, runs)
    d = 10 ** rng.uniform(9.0, 12.0, runs)
    y = sp.law("besiroglu2024").loss(n, d) * np.exp(rng.normal(0.0, 0.02, runs))
    ln_n, ln_d, ln_y = np.log(n), np.log(d), np.log(y)

    sp.fit_law(n, d, y, bootstrap=10)  # warm-up (page faults, thread pool)
    times, cpu_times = [], []
    for _ in range(1 if quick else 3):
        start, cpu = time.perf_counter(), time.process_time()
        fit = sp.fit_law(n, d, y, bootstrap=boots, seed=1)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    ours, ours_cpu = min(times), min(cpu_times)
    start = time.perf_counter()
    point = sp.fit_law(n, d, y)
    ours_point = time.perf_counter() - start

    start = time.perf_counter()
    ones = np.ones(runs)
    ref = scipy_fit(ln_n, ln_d, ln_y, ones, grid_starts(ln_n, ln_d, ln_y))
    scipy_point = time.perf_counter() - start
    boot_rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(sample):
        w = np.bincount(boot_rng.integers(0, runs, runs), minlength=runs).astype(np.float64)
        minimize(objective, ref.x, args=(ln_n, ln_d, ln_y, w), jac=True, method="L-BFGS-B")
    scipy_boot = (time.perf_counter() - start) / sample * boots
    scipy_total = scipy_point + scipy_boot
    # scipy held to tolerances like ours (its defaults stop at a relative objective change of
    # 2.2e-9 or a projected gradient of 1e-5): the bootstrap sample again.
    tight = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000}
    boot_rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(sample):
        w = np.bincount(boot_rng.integers(0, runs, runs), minlength=runs).astype(np.float64)
        minimize(
            objective, ref.x, args=(ln_n, ln_d, ln_y, w), jac=True, method="L-BFGS-B", options=tight
        )
    scipy_tight_boot = (time.perf_counter() - start) / sample * boots

    gap = (point.objective - ref.fun) / ref.fun
    assert point.converged and fit.converged
    assert gap <= 1e-6, f"scaleplan's point fit is worse than scipy's by {gap:.2e}"
    result = {
        "runs": runs,
        "bootstrap": boots,
        "ours_s": ours,
        "ours_point_fit_s": ours_point,
        "scipy_point_fit_s": scipy_point,
        "scipy_bootstrap_s_extrapolated": scipy_boot,
        "scipy_total_s": scipy_total,
        "scipy_bootstrap_sample": sample,
        "ratio_vs_scipy": scipy_total / ours,
        "scipy_tight_bootstrap_s_extrapolated": scipy_tight_boot,
        "ratio_vs_scipy_tight": (scipy_point + scipy_tight_boot) / ours,
        "relative_objective_gap_vs_scipy": gap,
        "bootstrap_unconverged": fit.bootstrap_unconverged,
        "ours_cpu_s": ours_cpu,
        "ours_estimate": fit.estimate,
    }
    peer = chinchilla_package(n, d, y)
    result["chinchilla_package"] = peer
    print("fit_law (240 runs from besiroglu2024, 2% noise, 1,000 bootstraps, one core)")
    print(
        f"  scaleplan {ours:.3f} s (point fit {ours_point * 1e3:.0f} ms); scipy L-BFGS-B, same "
        f"objective and starts: {scipy_total:.2f} s (point fit {scipy_point:.2f} s, bootstrap "
        f"{scipy_boot:.2f} s from {sample} refits); ratio {scipy_total / ours:.2f}x"
    )
    print(
        f"  scipy with tolerances like ours (ftol 1e-15, gtol 1e-10): bootstrap "
        f"{scipy_tight_boot:.2f} s; ratio {(scipy_point + scipy_tight_boot) / ours:.2f}x"
    )
    print(
        f"  point-fit objective gap (ours - scipy) / scipy {gap:.2e}; "
        f"bootstrap refits not meeting the convergence test: {fit.bootstrap_unconverged}"
    )
    print(f"  scaleplan CPU {ours_cpu:.3f} s; fitted " + _values(fit.estimate))
    if "not_run" in peer:
        print(f"  chinchilla package: not run ({peer['not_run']})")
    else:
        extrapolated = peer["fit_s"] * (1 + boots)
        print(
            f"  chinchilla package 0.2.0 (BFGS from {peer['starts']} grid points, no bootstrap): "
            f"point fit {peer['fit_s']:.2f} s wall, {peer['cpu_s']:.2f} s CPU; fitted "
            + _values(peer["params"])
        )
        print(
            f"  its point fit + 1,000 refits would take ~{extrapolated:.0f} s (extrapolated); "
            f"ratio {extrapolated / ours:.0f}x"
        )
        result["chinchilla_extrapolated_with_bootstrap_s"] = extrapolated
        result["ratio_vs_chinchilla_package"] = extrapolated / ours
    return result


def _values(p: dict[str, float]) -> str:
    return ", ".join(f"{k} {p[k]:.5g}" for k in ("E", "A", "B", "alpha", "beta"))
