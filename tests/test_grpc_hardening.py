"""Issue 11 (one request must never take the service down), the server's side: a stream ending
by its deadline does not crash the process, and the access log and metrics see how it ended."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import signal
import threading
import time
from pathlib import Path

import grpc
import grpc.aio
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import TIMEOUT_S, ServeProcess, ServerThread, rss_mb, stub, wait_until
from scaleplan.v1 import planner_pb2

SWEEP = "/scaleplan.v1.PlannerService/InferenceCostSweep"


def million_point_sweep() -> planner_pb2.InferenceCostSweepRequest:
    """prompt_tokens 1..1000 x gen_tokens 1..1000: seconds of work, far past a 100 ms deadline."""
    request = planner_pb2.InferenceCostSweepRequest(model="qwen3-8b", hardware="h100-sxm")
    request.grid.prompt_tokens.extend(range(1, 1001))
    request.grid.gen_tokens.extend(range(1, 1001))
    return request


def health(channel: grpc.Channel) -> int:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S
    )
    return int(reply.status)


def test_streams_ending_by_their_deadline_do_not_crash_the_server(tmp_path: Path) -> None:
    """Issue 11 item 1: the access log read the call's peer after the call had ended, which
    crashed the process with SIGSEGV in about half of such calls (the first of ten nearly always
    did it). Item 4 (logging): the calls are logged as DEADLINE_EXCEEDED, not CANCELLED."""
    log = tmp_path / "access.jsonl"
    runs = 10
    with (
        ServeProcess("--access-log", str(log)) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        for run in range(runs):
            with pytest.raises(grpc.RpcError) as caught:
                for _ in stub(channel).InferenceCostSweep(million_point_sweep(), timeout=0.1):
                    pass
            assert server.alive(), f"the server died in run {run}: {server.exit_status()}"
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        frontier = planner_pb2.FrontierTestTimeRequest()  # 4e5 budgets: 1 crash in 3 runs
        frontier.budgets.extend(np.geomspace(1e13, 1e17, 400_000).tolist())
        for run in range(3):
            with pytest.raises(grpc.RpcError) as caught:
                for _ in stub(channel).FrontierTestTime(frontier, timeout=0.1):
                    pass
            assert server.alive(), f"the server died in frontier run {run}: {server.exit_status()}"
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        time.sleep(0.3)  # a crash after the last status was sent
        assert server.alive(), server.exit_status()
        assert health(channel) == health_pb2.HealthCheckResponse.SERVING

        def logged() -> list[dict[str, object]]:
            lines = log.read_text().splitlines() if log.exists() else []
            return [json.loads(x) for x in lines if SWEEP in x]

        assert wait_until(lambda: len(logged()) == runs), logged()
        assert {x["code"] for x in logged()} == {"DEADLINE_EXCEEDED"}
        assert all(str(x["peer"]).startswith("ipv4:127.0.0.1:") for x in logged())


# ---- admission control (item 5) ----

FRONTIER_TT = "/scaleplan.v1.PlannerService/FrontierTestTime"


def test_admission_control_refuses_at_once_and_health_stays_fast(tmp_path: Path) -> None:
    """Issue 11 item 5: 200 concurrent 4e5-budget frontiers took the server from 60 MB to
    2.33 GB. Here 60 frontiers of 2e5 budgets (1.6 MB a request) meet --max-calls 8: eight are
    served, the others are refused with RESOURCE_EXHAUSTED naming the limit, before their
    request is read; health checks keep answering fast; RSS stays bounded."""
    calls, max_calls = 60, 8
    log = tmp_path / "access.jsonl"
    request = planner_pb2.FrontierTestTimeRequest()
    request.budgets.extend(np.geomspace(1e13, 1e17, 200_000).tolist())
    with (
        ServeProcess("--access-log", str(log), "--max-calls", str(max_calls)) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        assert server.proc is not None
        rss_before = peak = rss_mb(server.proc.pid)
        outcomes: dict[int, tuple[str, float, str]] = {}
        started: list[grpc.Call] = []

        def call(i: int) -> None:
            t = time.monotonic()
            stream = stub(channel).FrontierTestTime(request, timeout=120)
            started.append(stream)  # type: ignore[arg-type]
            try:
                next(stream)
                outcomes[i] = ("OK", time.monotonic() - t, "")
            except grpc.RpcError as exc:
                outcomes[i] = (exc.code().name, time.monotonic() - t, exc.details() or "")

        threads = [threading.Thread(target=call, args=(i,)) for i in range(calls)]
        for thread in threads:
            thread.start()
        latencies = []
        checks = health_pb2_grpc.HealthStub(channel)
        while any(t.is_alive() for t in threads) or len(latencies) < 20:
            t = time.monotonic()
            checks.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
            latencies.append(time.monotonic() - t)
            peak = max(peak, rss_mb(server.proc.pid))
            time.sleep(0.02)
        for thread in threads:
            thread.join(TIMEOUT_S)
        for stream in started:
            stream.cancel()
        assert server.alive(), server.exit_status()
    served = [o for o in outcomes.values() if o[0] == "OK"]
    refused = [o for o in outcomes.values() if o[0] == "RESOURCE_EXHAUSTED"]
    # The served calls run for seconds (each ~800 chunks), longer than the others take to
    # arrive, so exactly max_calls are served.
    assert len(served) == max_calls and len(refused) == calls - max_calls, outcomes
    assert all("--max-calls" in o[2] and f"limit is {max_calls}" in o[2] for o in refused)
    # "At once": seconds at most on this loaded 2-core machine (sending 1.6 MB included), not
    # the minutes the served frontiers take.
    assert max(o[1] for o in refused) < 5.0
    # Health answers within 50 ms under load; 250 ms leaves room for the 2 shared cores of CI.
    assert sorted(latencies)[len(latencies) // 2] < 0.05, latencies
    assert max(latencies) < 0.25, latencies
    # Refused calls reach the access log like any other (item 9).
    logged = [json.loads(x) for x in log.read_text().splitlines() if FRONTIER_TT in x]
    assert sum(x["code"] == "RESOURCE_EXHAUSTED" for x in logged) == len(refused)
    # What 8 served requests hold (1.6 MB each, plus its budgets as an array and a chunk) and
    # what arrives before a refusal; today's main grew by ~20 MB a call.
    assert peak - rss_before < 250, (rss_before, peak)


# ---- calls refused before the handler (items 6 and 9) ----

COST = "/scaleplan.v1.PlannerService/InferenceCost"


def test_malformed_and_oversized_requests_are_answered_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Malformed request bytes were UNKNOWN with the parser's exception class in the message,
    and neither they nor messages over --max-message-bytes (refused by gRPC before any handler)
    reached the access log or the metrics."""
    caplog.set_level(logging.INFO, logger="scaleplan.access")
    with (
        ServerThread(max_message_bytes=64 * 1024) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        assert server.server is not None
        metrics = server.server.metrics
        raw = channel.unary_unary(COST)  # no serializer: the bytes go as they are
        with pytest.raises(grpc.RpcError) as malformed:
            raw(b"\xff\xff\xff\xff", timeout=TIMEOUT_S)
        assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = malformed.value.details() or ""
        assert details.startswith("request: ") and "Error" not in details, details
        with pytest.raises(grpc.RpcError) as oversized:
            raw(b"\x0a\x80\x80\x08" + b"x" * 128 * 1024, timeout=TIMEOUT_S)  # 128 kB
        assert oversized.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        stream = channel.unary_stream(SWEEP)
        with pytest.raises(grpc.RpcError) as garbled_stream:
            list(stream(b"\xff\xff", timeout=TIMEOUT_S))
        assert garbled_stream.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # A well-formed call still works on the same channel.
        request = planner_pb2.InferenceCostRequest(
            model="qwen3-8b", hardware="h100-sxm", prompt_tokens=1, gen_tokens=1
        )
        assert stub(channel).InferenceCost(request, timeout=TIMEOUT_S).cost.feasible
        assert wait_until(lambda: metrics.handled(COST, "OK") == 1)
        assert metrics.handled(COST, "INVALID_ARGUMENT") == 1
        assert metrics.handled(COST, "RESOURCE_EXHAUSTED") == 1
        assert metrics.handled(SWEEP, "INVALID_ARGUMENT") == 1
        assert metrics.in_flight() == 0
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "scaleplan.access"]
    assert [(x["method"], x["code"]) for x in lines] == [
        (COST, "INVALID_ARGUMENT"),
        (COST, "RESOURCE_EXHAUSTED"),
        (SWEEP, "INVALID_ARGUMENT"),
        (COST, "OK"),
    ]


def test_access_log_file_loses_no_line_when_the_server_dies(tmp_path: Path) -> None:
    """Issue 11 item 9: the access log was written in batches every 0.25 s, so a crash lost the
    lines of the calls just before it. A file now gets each line as its call ends."""
    log = tmp_path / "access.jsonl"
    request = planner_pb2.InferenceCostRequest(
        model="qwen3-8b", hardware="h100-sxm", prompt_tokens=1, gen_tokens=1
    )
    with ServeProcess("--access-log", str(log)) as server:
        with grpc.insecure_channel(server.target) as channel:
            for _ in range(3):
                stub(channel).InferenceCost(request, timeout=TIMEOUT_S)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)  # no chance to flush anything
        server.proc.wait(TIMEOUT_S)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["method"], x["code"]) for x in lines] == [(COST, "OK")] * 3


def test_a_burst_within_the_limits_is_never_refused() -> None:
    """Admission must not mistake a burst of small calls for a full server: 64 calls in flight
    on one connection (what benches/bench_grpc.py runs) against --max-calls 64 are all served.
    (A first version reserved --max-message-bytes for each call whose request was not read
    yet, and refused a few percent of such calls.)"""
    request = planner_pb2.InferenceCostRequest(
        model="qwen3-8b", hardware="h100-sxm", prompt_tokens=128, gen_tokens=1024
    )
    codes: collections.Counter[str] = collections.Counter()

    async def load(target: str) -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            call = stub(channel).InferenceCost  # type: ignore[arg-type]
            remaining = 12_000

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    try:
                        await call(request, timeout=TIMEOUT_S)
                        codes["OK"] += 1
                    except grpc.aio.AioRpcError as exc:
                        codes[exc.code().name] += 1

            await asyncio.gather(*(worker() for _ in range(64)))

    with ServeProcess("--access-log", "off", "--max-calls", "64") as server:
        asyncio.run(load(server.target))
    assert codes == {"OK": 12_000}
