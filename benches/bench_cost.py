"""inference_cost on N configurations: the Rust binding against the same formulas in plain
numpy (benches/numpy_cost.py), on one core, same inputs, results checked equal; and one
configuration per Python call.

Every time is the minimum over repeats (the machine may be shared: the minimum is the run least
disturbed by other work); the repeat counts are printed with the results. The 1M-configuration
rows give the process's CPU time too (``time.process_time``, all threads: the binding prices
large batches on a worker thread), which other processes on a loaded machine inflate far less
than the wall time; ratios are of CPU times.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy_cost
import scaleplan as sp
from scaleplan import _core

REPEATS = 7
"""Timed runs of each 1M-configuration job (the minimum is reported)."""
SCALAR_CALLS = 2000
"""Calls per timed run of the one-configuration rows (the minimum mean is reported)."""


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    """The least wall time of ``repeats`` runs of ``fn``."""
    return timed(repeats, fn)[0]


def timed(repeats: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """The least wall time and the least process CPU time of ``repeats`` runs of ``fn``."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return min(wall), min(cpu)


def per_call(fn: Callable[[], Any], calls: int = SCALAR_CALLS, repeats: int = REPEATS) -> float:
    """CPU seconds per call of ``fn``: the minimum over ``repeats`` runs of the mean of
    ``calls`` (process CPU time, as the 1M rows)."""

    def run() -> None:
        for _ in range(calls):
            fn()

    fn()
    return timed(repeats, run)[1] / calls


def _has(fn: Callable[..., Any], parameter: str) -> bool:
    return parameter in inspect.signature(fn).parameters


def kernel_rows(n: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    prompt = rng.integers(0, 8192, n).astype(np.float64)
    gen = rng.integers(1, 32768, n).astype(np.float64)
    k = rng.integers(1, 65, n).astype(np.float64)
    model, hw = sp.model("qwen3-8b"), sp.hardware("h100-sxm")
    results: dict[str, Any] = {"configurations": n, "repeats": repeats, "cases": {}}
    cases: dict[str, dict[str, Any]] = {
        "dense, batch unset (Kinetics)": {"attention": "dense", "batch": "unset"},
        "top-k 2048, batch max, roofline": {
            "attention": "topk",
            "kv_budget": np.full(n, 2048.0),
            "batch": "max",
            "time_model": "roofline",
        },
    }
    print(
        f"inference_cost on {n:,} configurations (qwen3-8b on h100-sxm), one core, "
        f"min of {repeats} runs"
    )
    fields = len(sp.InferenceCost.__dataclass_fields__)
    t_alloc = timed(repeats, lambda: [np.full(n, 1.0) for _ in range(fields)])[1]
    columns = [np.empty(n) for _ in range(fields)]
    t_refill = timed(repeats, lambda: [c.fill(1.0) for c in columns])[1]
    results["output_allocation_s"] = t_alloc
    results["output_refill_s"] = t_refill
    print(
        f"  numpy writing {fields} fresh float64 arrays of {n:,} (CPU): "
        f"{t_alloc / n * 1e9:.1f} ns/config; refilling existing ones: "
        f"{t_refill / n * 1e9:.1f} ns/config"
    )
    with_out = _has(sp.inference_cost, "out")
    for label, opts in cases.items():
        opts = dict(opts)
        batch = opts.pop("batch")
        time_model = opts.pop("time_model", "additive")
        serving = sp.Serving(batch=batch, time_model=time_model)
        attention = opts["attention"]
        if attention == "topk":
            attention = "topk:2048"

        def binding(serving: sp.Serving = serving, attention: Any = attention, **kw: Any) -> Any:
            return sp.inference_cost(
                model,
                hw,
                prompt_tokens=prompt,
                gen_tokens=gen,
                samples=k,
                attention=attention,
                serving=serving,
                **kw,
            )

        def baseline(
            opts: dict[str, Any] = opts, batch: str = batch, time_model: str = time_model
        ) -> dict[str, Any]:
            mode = {"unset": "amortized", "max": "max"}[batch]
            return numpy_cost.inference_cost(
                model, hw, prompt, gen, k, batch=mode, time_model=time_model, **opts
            )

        got, want = binding(), baseline()
        for name, expected in want.items():
            value = getattr(got, name)
            if expected.dtype.kind in "bU":
                assert np.array_equal(value, expected), name
            else:
                np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=name)
        row: dict[str, Any] = {}

        def measure(key: str, fn: Callable[[], Any], row: dict[str, Any] = row) -> None:
            wall, cpu = timed(repeats, fn)
            row[f"{key}_ns"], row[f"{key}_wall_ns"] = cpu / n * 1e9, wall / n * 1e9

        measure("numpy", baseline)
        measure("facade_fresh", binding)
        if with_out:
            # The numeric fields only (what the numpy baseline's callers read most), and every
            # field into one reused buffer.
            out = np.empty((fields, n))
            got_out = binding(out=out)
            for name in want:
                a, b = getattr(got_out, name), getattr(got, name)
                assert np.array_equal(a, b) or np.allclose(a, b, rtol=0, atol=0), name
            measure("facade_out", lambda out=out: binding(out=out))
            numeric = [f for f in sp.INFERENCE_COST_FIELDS if f not in ("feasible", "binding")]
            measure("facade_numeric_fields", lambda f=numeric: binding(fields=f))
            measure("facade_one_field_out", lambda o=out[:1]: binding(fields=["eflops"], out=o))
        for key in [name for name in row if name.startswith("facade") and "_wall" not in name]:
            row[key.replace("_ns", "_ratio")] = row["numpy_ns"] / row[key]
        results["cases"][label] = row
        print(
            f"  {label}: numpy {row['numpy_ns']:.1f} ns/config CPU "
            f"({row['numpy_wall_ns']:.1f} wall)"
        )
        names = {
            "facade_fresh": "fresh outputs (all 20 fields)",
            "facade_out": "into a reused out= buffer (all 20)",
            "facade_numeric_fields": "fields= the 18 numeric ones, fresh",
            "facade_one_field_out": "fields=['eflops'] into out=",
        }
        for key, text in names.items():
            if f"{key}_ns" in row:
                print(
                    f"    {text:38s} {row[f'{key}_ns']:7.1f} ns/config CPU "
                    f"({row[f'{key}_wall_ns']:6.1f} wall)   {row[f'{key}_ratio']:5.2f}x numpy"
                )
    return results


def scalar_rows(calls: int, repeats: int) -> dict[str, Any]:
    """One configuration per Python call (the gRPC server and notebooks call this way)."""
    model, hw = sp.model("qwen3-8b"), sp.hardware("h100-sxm")
    native_serving = sp.Serving()._native
    rows: dict[str, float] = {
        "facade_by_name_us": per_call(
            lambda: sp.inference_cost(
                "qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192, samples=4
            ),
            calls,
            repeats,
        )
        * 1e6,
        "facade_topk_us": per_call(
            lambda: sp.inference_cost(
                model, hw, prompt_tokens=512, gen_tokens=8192, attention="topk:1024"
            ),
            calls,
            repeats,
        )
        * 1e6,
        "facade_array_of_one_us": per_call(
            lambda: sp.inference_cost(
                model, hw, prompt_tokens=np.array([512.0]), gen_tokens=8192, samples=4
            ),
            calls,
            repeats,
        )
        * 1e6,
        "law_by_name_us": per_call(lambda: sp.law("hoffmann2022"), calls, repeats) * 1e6,
    }
    if hasattr(_core, "inference_cost_one"):
        rows["core_scalar_entry_us"] = (
            per_call(
                lambda: _core.inference_cost_one(
                    model._native,
                    hw._native,
                    512.0,
                    8192.0,
                    4.0,
                    None,
                    None,
                    attention="dense",
                    serving=native_serving,
                ),
                calls,
                repeats,
            )
            * 1e6
        )
    print(
        f"one configuration per Python call, CPU time, mean of {calls:,} calls, "
        f"min of {repeats} runs:"
    )
    text = {
        "facade_by_name_us": "sp.inference_cost('qwen3-8b', 'h100-sxm', 512, 8192, 4)",
        "facade_topk_us": "same with Model objects, attention='topk:1024'",
        "facade_array_of_one_us": "same, prompt_tokens a 1-element array (array path)",
        "core_scalar_entry_us": "_core.inference_cost_one (the binding alone)",
        "law_by_name_us": "sp.law('hoffmann2022')",
    }
    for key, value in rows.items():
        print(f"  {text[key]:58s} {value:6.2f} us")
    return rows


def main(quick: bool = False) -> dict[str, Any]:
    n = 100_000 if quick else 1_000_000
    repeats = 3 if quick else REPEATS
    results = kernel_rows(n, repeats)
    results["scalar"] = scalar_rows(200 if quick else SCALAR_CALLS, repeats)
    return results
