"""NVIDIA aiconfigurator's speed-of-light (SOL) estimate of one request, timed per call.

Runs in .venv-peers (benches/requirements-peers.txt, installed by ``make bench`` only), called by
benches/bench_cost.py in a subprocess with that interpreter. Argument: one JSON object

    {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "backend": "trtllm",
     "cases": [[1024, 1024, 1], [1024, 1024, 64]], "calls": 200, "repeats": 7}

each case (prompt tokens ``isl``, output tokens ``osl``, batch).

The estimator is aiconfigurator-core's compiled Rust engine (``AicEngine``, through its PyO3
binding) built on a perf database opened in SOL mode: every operator of the model is priced at
max(math time, memory time) on the system's peak FLOP/s and HBM bandwidth, with no measured
kernel data and no efficiency factor. One call of ``AicEngine.run_static(batch, 1, isl, osl,
...)`` estimates one request shape: a static batch of ``batch`` requests prefilled in one pass
then decoded together (the decode phase sampled every ``stride`` = 32 steps, so a call costs
more as ``osl`` grows). Each time is the least, over ``repeats`` runs, of the mean of ``calls``
calls (process CPU time and wall time).

Prints one JSON line. Exit status 3 with ``{"not_installed": ...}`` when aiconfigurator cannot
be imported (the caller then says "AIC not installed").
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from typing import Any

STRIDE = 32
"""Decode steps between the steps AIC evaluates (its ``run_static`` default)."""


def timed(calls: int, repeats: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """Least CPU and least wall seconds per call: ``repeats`` runs of ``calls`` calls."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        cpu.append((time.process_time() - start_cpu) / calls)
        wall.append((time.perf_counter() - start) / calls)
    return min(cpu), min(wall)


def summary(batch: int, osl: int, context_ms: float, generation_ms: float) -> dict[str, float]:
    """AIC's own static-batch summary of ``run_static``'s phase latencies (as its
    ``BaseBackend`` builds one, aiconfigurator_core/sdk/backends/base_backend.py): TTFT is the
    prefill, TPOT the decode phase over its ``osl - 1`` steps, throughput ``osl`` tokens of each
    of ``batch`` requests over the request latency."""
    tpot = 0.0 if osl <= 1 else generation_ms / (osl - 1)
    latency = context_ms + tpot * max(osl - 1, 0)
    seq_s = batch / latency * 1e3
    return {
        "ttft_ms": context_ms,
        "tpot_ms": tpot,
        "request_latency_ms": latency,
        "seq_per_s": seq_s,
        "tokens_per_s": seq_s * osl,
    }


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    try:
        import aiconfigurator_core
        from aiconfigurator_core.sdk import engine, perf_database
        from aiconfigurator_core.sdk.models import get_model
    except ImportError as exc:
        print(json.dumps({"not_installed": f"{type(exc).__name__}: {exc}"}))
        return 3
    system, backend, model_path = config["system"], config["backend"], config["model"]
    start = time.perf_counter()
    version = perf_database.resolve_query_version(system, backend, "current")
    database = perf_database.get_database_view(
        system, backend, version, allow_missing_data=True, database_mode="SOL"
    )
    model = get_model(
        model_path,
        engine.build_model_config(
            tp_size=1, pp_size=1, attention_dp_size=1, moe_tp_size=1, moe_ep_size=1
        ),
        backend,
    )
    spec = engine.build_engine_spec_json(
        model,
        model_path=model_path,
        system=system,
        backend=backend,
        backend_version=database.version,
        kv_block_size=None,
        systems_path=None,
        nextn=0,
        database=database,
    )
    mode = json.loads(spec)["engine"]["database_mode"]
    if mode != "SOL":
        raise SystemExit("aiconfigurator did not compile the engine in SOL mode")
    spec_bytes = bytes(aiconfigurator_core.engine_spec_bincode_from_json(spec))
    aic = aiconfigurator_core.AicEngine.from_spec(spec_bytes, None)
    setup_s = time.perf_counter() - start
    rows = []
    for isl, osl, batch in config["cases"]:
        args = (batch, 1, isl, osl, 0, 1.0, 1.0, "static", STRIDE)
        context_ms, generation_ms, total_ms = aic.run_static(*args)
        cpu, wall = timed(config["calls"], config["repeats"], partial(aic.run_static, *args))
        context, generation = aic.run_static_per_op(*args)
        # Where each operator's time came from: "sol" for every one that takes time (the
        # all-reduce and pipeline operators are 0 on one GPU).
        sources = sorted({op[3] for op in context + generation if op[1] > 0})
        rows.append(
            {
                "isl": isl,
                "osl": osl,
                "batch": batch,
                "us_per_request_cpu": cpu * 1e6,
                "us_per_request_wall": wall * 1e6,
                "context_ms": context_ms,
                "generation_ms": generation_ms,
                "total_ms": total_ms,
                "op_sources": sources,
                **summary(batch, osl, context_ms, generation_ms),
            }
        )
    print(
        json.dumps(
            {
                "aiconfigurator": metadata.version("aiconfigurator"),
                "aiconfigurator_core": metadata.version("aiconfigurator-core"),
                "model": model_path,
                "system": system,
                "backend": backend,
                "backend_version": database.version,
                "database_mode": mode,
                "bf16_flops": float(database.system_spec["gpu"]["bfloat16_tc_flops"]),
                "hbm_bytes_per_s": float(database.system_spec["gpu"]["mem_bw"]),
                "stride": STRIDE,
                "calls": config["calls"],
                "repeats": config["repeats"],
                "setup_s": setup_s,
                "threads": {v: os.environ.get(v) for v in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS")},
                "rows": rows,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
