"""Load on the gRPC service: a bounded load generator against ``scaleplan serve`` on loopback.

The server runs as its own process (as deployed; access log on, to a file); the generator keeps
``concurrency`` calls in flight on one HTTP/2 connection with grpc.aio, for a fixed number of
requests per RPC or until a time cap, and reports requests/s, p50/p99 latency and errors by status
code, per RPC. Server and generator share this machine's cores.

Baselines in the same run: a bare grpc.aio server of the same service (no interceptors, each
handler returns a canned response: the framework's ceiling on this machine), and the same
InferenceCost called in-process through the Python API (no RPC).

    python benches/bench_grpc.py --requests 20000 --concurrency 64 --time-cap-s 60
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import numpy as np
import scaleplan as sp
from scaleplan.grpc import client as client_module
from scaleplan.grpc import conversions
from scaleplan.grpc._remote import RemoteApi
from scaleplan.v1 import planner_pb2, planner_pb2_grpc

REQUEST: dict[str, Any] = {
    "prompt_tokens": 512,
    "gen_tokens": 8192,
    "samples": 4,
    "serving": sp.Serving(batch="max"),
}
PLAN = {"budget_eflops": 1e15, "family": "qwen3-dense", "attention": ["dense", ("topk", 1024)]}


def start_server(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if m := re.search(r"listening on (\S+)", line):
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("scaleplan serve did not start")


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(
    call: Callable[[], Any], requests: int, concurrency: int, time_cap_s: float
) -> dict[str, Any]:
    """``requests`` calls (fewer if ``time_cap_s`` passes first), ``concurrency`` in flight."""
    latencies: list[float] = []
    codes: collections.Counter[str] = collections.Counter()
    issued = 0
    start = time.perf_counter()
    stop_at = start + time_cap_s

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < stop_at:
            issued += 1
            t = time.perf_counter()
            try:
                await call()
                codes["OK"] += 1
            except grpc.aio.AioRpcError as exc:
                codes[exc.code().name] += 1
            latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1e3
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "codes": dict(codes),
        "errors": sum(n for code, n in codes.items() if code != "OK"),
        "capped_by_time": len(latencies) < requests,
    }


def cost_request() -> planner_pb2.InferenceCostRequest:
    return conversions.inference_cost_request(
        "qwen3-8b",
        "h100-sxm",
        attention="dense",
        **REQUEST,
    )


def expected_cost() -> sp.InferenceCost:
    return sp.inference_cost("qwen3-8b", "h100-sxm", **REQUEST)


def plan_request() -> planner_pb2.PlanTestTimeRequest:
    """The request scaleplan.Client sends for ``plan_test_time(**PLAN)``: the generated
    method's arguments with their defaults, through the client's own request builder."""
    bound = inspect.signature(RemoteApi.plan_test_time).bind(None, **PLAN)
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k not in ("self", "timeout_s")}
    args = client_module._scalars(args)
    budgets = {name: args.pop(name) for name in conversions.TEST_TIME_BUDGETS}
    return conversions.plan_test_time_request(budgets, **args)


def expected_plan() -> sp.TestTimePlan:
    return sp.plan_test_time(**PLAN)


async def serve_bare() -> None:
    """The baseline server: PlannerService on a bare grpc.aio server, canned responses."""
    cost = planner_pb2.InferenceCostResponse(
        cost=conversions.inference_cost_message(expected_cost())
    )
    catalog = sp.default_catalog()
    names = catalog.names()
    listing = planner_pb2.ListCatalogResponse(
        hardware=[conversions.hardware_message(catalog.hardware(n)) for n in names["hardware"]],
        models=[conversions.model_message(catalog.model(n)) for n in names["models"]],
        families=[conversions.family_message(catalog.family(n)) for n in names["families"]],
        laws=[conversions.law_message(sp.law(n)) for n in names["laws"]],
    )
    plan = expected_plan()
    planned = planner_pb2.PlanTestTimeResponse(
        plan=conversions.test_time_plan_message(plan), explanation=plan.explain()
    )

    class Canned(planner_pb2_grpc.PlannerServiceServicer):
        async def InferenceCost(self, request: Any, context: Any) -> Any:
            return cost

        async def PlanTestTime(self, request: Any, context: Any) -> Any:
            return planned

        async def ListCatalog(self, request: Any, context: Any) -> Any:
            return listing

    server = grpc.aio.server()
    planner_pb2_grpc.add_PlannerServiceServicer_to_server(Canned(), server)  # type: ignore[arg-type]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


async def run(target: str, requests: int, concurrency: int, time_cap_s: float) -> dict[str, Any]:
    request, planning = cost_request(), plan_request()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = planner_pb2_grpc.PlannerServiceStub(channel)
        # The answers over the wire are the Python API's.
        response = await stub.InferenceCost(request, timeout=10)
        assert conversions.inference_cost_from(response.cost) == expected_cost()
        planned = await stub.PlanTestTime(planning, timeout=10)
        assert conversions.test_time_plan_from(planned.plan) == expected_plan()
        rpcs: dict[str, tuple[Callable[[], Any], int]] = {
            "InferenceCost": (lambda: stub.InferenceCost(request, timeout=10), requests),
            "PlanTestTime": (lambda: stub.PlanTestTime(planning, timeout=10), requests),
            "ListCatalog": (
                lambda: stub.ListCatalog(planner_pb2.ListCatalogRequest(), timeout=10),
                max(1, requests // 4),
            ),
        }
        results = {}
        for name, (call, n) in rpcs.items():
            await load(call, min(n, 500), concurrency, time_cap_s)  # warm-up
            results[name] = await load(call, n, concurrency, time_cap_s)
        return results


def in_process_rate(seconds: float = 1.0) -> float:
    """InferenceCost of the same request through the Python API, calls per second."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sp.inference_cost("qwen3-8b", "h100-sxm", **REQUEST)
        n += 1
    return n / (time.perf_counter() - start)


def main(
    quick: bool = False,
    requests: int | None = None,
    concurrency: int = 64,
    time_cap_s: float | None = None,
) -> dict[str, Any]:
    requests = requests or (4_000 if quick else 150_000)
    time_cap_s = time_cap_s or (10.0 if quick else 60.0)
    print(
        f"gRPC on loopback, {concurrency} calls in flight on one connection, at most "
        f"{requests:,} InferenceCost and PlanTestTime and {max(1, requests // 4):,} "
        f"ListCatalog calls or "
        f"{time_cap_s:g} s each; {os.cpu_count()} CPUs shared by server and load generator"
    )
    results: dict[str, Any] = {"concurrency": concurrency, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.jsonl"
        servers = {
            "scaleplan serve": [
                *(sys.executable, "-m", "scaleplan.cli", "serve", "--port", "0"),
                *("--access-log", str(log)),
            ],
            "bare grpc.aio (baseline)": [sys.executable, __file__, "--serve-bare"],
        }
        for label, command in servers.items():
            proc, target = start_server(command)
            rss_before = rss_mb(proc.pid)
            try:
                rpcs = asyncio.run(run(target, requests, concurrency, time_cap_s))
                rss_after = rss_mb(proc.pid)
            finally:
                proc.terminate()
                code = proc.wait(30)
            results[label] = {
                "rpcs": rpcs,
                "exit_code": code,
                "rss_mb_before": rss_before,
                "rss_mb_after": rss_after,
            }
            print(f"  {label:25s} RSS {rss_before:.0f} MB before the load, {rss_after:.0f} after")
            for name, r in rpcs.items():
                print(
                    f"  {label:25s} {name:14s} {r['requests']:>7,} in {r['seconds']:5.1f} s "
                    f"{r['requests_per_s']:>7,.0f}/s  p50 {r['p50_ms']:6.2f} ms  "
                    f"p99 {r['p99_ms']:6.2f} ms  {r['codes']}"
                )
        results["scaleplan serve"]["calls_logged"] = sum(1 for _ in log.open())
    # The row: scaleplan against the bare server, both measured above in this run.
    ours = results["scaleplan serve"]["rpcs"]["InferenceCost"]
    bare = results["bare grpc.aio (baseline)"]["rpcs"]["InferenceCost"]
    ratio = {
        "rate": ours["requests_per_s"] / bare["requests_per_s"],
        "p99": ours["p99_ms"] / bare["p99_ms"],
    }
    results["inference_cost_vs_bare"] = ratio
    print(
        f"  InferenceCost, {concurrency} in flight: {ours['requests_per_s']:,.0f}/s vs bare "
        f"{bare['requests_per_s']:,.0f}/s = {ratio['rate']:.2f}x (goal >= 0.8x); p99 "
        f"{ours['p99_ms']:.2f} vs {bare['p99_ms']:.2f} ms = {ratio['p99']:.2f}x (goal <= 1.25x)"
    )
    direct = in_process_rate()
    results["in_process_inference_cost_per_s"] = direct
    print(f"  for scale: the same InferenceCost in-process via the Python API: {direct:,.0f}/s")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--requests", type=int, help="InferenceCost and PlanTestTime requests (ListCatalog: 1/4)"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--time-cap-s", type=float, help="stop each RPC's run after this long")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.serve_bare:
        asyncio.run(serve_bare())
    else:
        main(a.quick, a.requests, a.concurrency, a.time_cap_s)
