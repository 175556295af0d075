"""inference_cost on N configurations: the Rust binding against the same formulas in plain
numpy (benches/numpy_cost.py), on one core, same inputs, results checked equal."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy_cost
import scaleplan as sp


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(quick: bool = False) -> dict[str, Any]:
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(0)
    prompt = rng.integers(0, 8192, n).astype(np.float64)
    gen = rng.integers(1, 32768, n).astype(np.float64)
    k = rng.integers(1, 65, n).astype(np.float64)
    budget = rng.integers(64, 8192, n).astype(np.float64)
    model, hw = sp.model("qwen3-8b"), sp.hardware("h100-sxm")
    results: dict[str, Any] = {"configurations": n, "cases": {}}
    cases: dict[str, dict[str, Any]] = {
        "dense, batch unset (Kinetics)": {"attention": "dense", "batch": None},
        "top-k, batch max, roofline": {
            "attention": "topk",
            "kv_budget": budget,
            "batch": "max",
            "time_model": "roofline",
        },
    }
    print(f"inference_cost on {n:,} configurations (qwen3-8b on h100-sxm), one core")
    # Both sides return 20 fresh float64 arrays; what writing that much new memory costs on
    # this machine alone (page faults included) puts the ratios in context.
    fields = len(sp.InferenceCost.__dataclass_fields__)
    t_alloc = best_of(5, lambda: [np.full(n, 1.0) for _ in range(fields)])
    results["output_allocation_s"] = t_alloc
    print(f"  writing {fields} fresh arrays of {n:,} float64 alone takes {t_alloc * 1e3:.1f} ms")
    for label, opts in cases.items():
        batch = opts.pop("batch")

        def binding(opts: dict[str, Any] = opts, batch: Any = batch) -> sp.InferenceCost:
            return sp.inference_cost(
                model, hw, prompt_tokens=prompt, gen_tokens=gen, samples=k, batch=batch, **opts
            )

        def baseline(opts: dict[str, Any] = opts, batch: Any = batch) -> dict[str, Any]:
            mode = {None: "amortized", "max": "max"}[batch]
            return numpy_cost.inference_cost(model, hw, prompt, gen, k, batch=mode, **opts)

        got, want = binding(), baseline()
        for name, expected in want.items():
            value = getattr(got, name)
            if expected.dtype.kind in "bU":
                assert np.array_equal(value, expected), name
            else:
                np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=name)
        t_rust = best_of(5, binding)
        t_numpy = best_of(5, baseline)
        row = {
            "binding_s": t_rust,
            "numpy_s": t_numpy,
            "binding_configs_per_s": n / t_rust,
            "numpy_configs_per_s": n / t_numpy,
            "ratio": t_numpy / t_rust,
        }
        results["cases"][label] = row
        print(
            f"  {label:32s} binding {row['binding_configs_per_s']:>12,.0f}/s   "
            f"numpy {row['numpy_configs_per_s']:>12,.0f}/s   ratio {row['ratio']:.1f}x"
        )
    return results
