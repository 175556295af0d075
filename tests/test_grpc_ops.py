"""Operations: deadlines and cancellation reach the sweep, drain, health, reflection, TLS and
mutual TLS, the bearer token, metrics, the access log and message-size limits."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import scaleplan as sp
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_support import SWEEP, TIMEOUT_S, ServerThread, stub, wait_until
from scaleplan.v1 import planner_pb2

BIG_SWEEP_POINTS = 1_000_000


def big_sweep(chunk_points: int = 64) -> planner_pb2.InferenceCostSweepRequest:
    """A sweep of a million points in small chunks: many seconds of work."""
    request = planner_pb2.InferenceCostSweepRequest(
        model="qwen3-8b", hardware="h100-sxm", chunk_points=chunk_points
    )
    request.grid.prompt_tokens.extend(range(1000))
    request.grid.gen_tokens.extend(range(1, 1001))
    return request


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(metrics_port=0) as s:
        yield s


def _chunks(server: ServerThread) -> int:
    assert server.server is not None
    return server.server.metrics.chunks(SWEEP)


def _stopped_working(server: ServerThread, code: str) -> int:
    """Wait until the sweep's call is recorded with ``code`` and no chunk is being computed;
    return the chunks computed, checking that no more follow."""
    assert server.server is not None
    metrics = server.server.metrics
    assert wait_until(lambda: metrics.handled(SWEEP, code) >= 1), metrics.render()
    assert wait_until(lambda: metrics.in_flight(SWEEP) == 0)
    # A chunk a worker had already started when the call ended still completes (and is
    # counted); after that, nothing more: the count settles and stays.
    settled = _chunks(server)
    for _ in range(20):
        time.sleep(0.3)
        now = _chunks(server)
        if now == settled:
            break
        settled = now
    time.sleep(0.5)
    assert _chunks(server) == settled, "the server kept computing chunks"
    return settled


def test_deadline_expiring_mid_sweep_stops_the_work(server: ServerThread) -> None:
    before = _chunks(server)
    received: list[planner_pb2.InferenceCostSweepResponse] = []

    def read(stream: Iterator[planner_pb2.InferenceCostSweepResponse]) -> None:
        for message in stream:
            received.append(message)

    with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError) as caught:
        read(stub(channel).InferenceCostSweep(big_sweep(), timeout=0.3))
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert received  # it expired mid-stream, not before the first chunk
    computed = _stopped_working(server, "DEADLINE_EXCEEDED") - before
    assert len(received) <= computed < BIG_SWEEP_POINTS // 64 // 4


def test_cancelled_sweep_stops_the_work(server: ServerThread) -> None:
    before = _chunks(server)
    with grpc.insecure_channel(server.target) as channel:
        call = stub(channel).InferenceCostSweep(big_sweep(), timeout=TIMEOUT_S)
        for i, _ in enumerate(call):
            if i == 5:
                call.cancel()
                break
    computed = _stopped_working(server, "CANCELLED") - before
    assert 6 <= computed < BIG_SWEEP_POINTS // 64 // 4


def test_client_stopping_early_cancels_the_stream(server: ServerThread) -> None:
    assert server.server is not None
    cancelled = server.server.metrics.handled(SWEEP, "CANCELLED")
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        chunks = client.iter_inference_cost_sweep(
            "qwen3-8b",
            "h100-sxm",
            prompt_tokens=range(1000),
            gen_tokens=range(1, 1001),
            chunk_size=64,
        )
        next(chunks)
        chunks.close()  # the generator's close cancels the stream
    assert wait_until(lambda: server.server.metrics.handled(SWEEP, "CANCELLED") > cancelled)


def test_reflection_lists_the_services(server: ServerThread) -> None:
    with grpc.insecure_channel(server.target) as channel:
        db = ProtoReflectionDescriptorDatabase(channel)
        services = set(db.get_services())
        assert {"scaleplan.v1.PlannerService", "grpc.health.v1.Health"} <= services
        pool = descriptor_pool.DescriptorPool(db)
        planner = pool.FindServiceByName("scaleplan.v1.PlannerService")
        assert "InferenceCostSweep" in [m.name for m in planner.methods]
        request = pool.FindMessageTypeByName("scaleplan.v1.InferenceCostRequest")
        assert "prompt_tokens" in request.fields_by_name


def test_metrics_endpoint(server: ServerThread) -> None:
    assert server.server is not None and server.server.metrics_port
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        client.catalog()
        client.inference_cost_sweep("qwen3-8b", "h100-sxm", prompt_tokens=[128], gen_tokens=[64])
        with pytest.raises(sp.errors.UnknownNameError):
            client.model("nope")
    url = f"http://127.0.0.1:{server.server.metrics_port}"
    labels = 'grpc_service="scaleplan.v1.PlannerService",grpc_method="ListCatalog"'
    # The interceptor counts a call after its status is sent, so the client can see the error
    # a moment before the counter moves: scrape until it does (bounded).
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        with urllib.request.urlopen(f"{url}/metrics", timeout=TIMEOUT_S) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = response.read().decode()
        settled = 'grpc_method="GetModel",grpc_code="NOT_FOUND"} ' in text and (
            f"scaleplan_grpc_server_in_flight{{{labels}}} 0" in text
        )
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert f'scaleplan_grpc_server_handled_total{{{labels},grpc_code="OK"}}' in text
    assert 'grpc_method="GetModel",grpc_code="NOT_FOUND"} ' in text
    assert f'scaleplan_grpc_server_handling_seconds_bucket{{{labels},le="+Inf"}}' in text
    assert f"scaleplan_grpc_server_in_flight{{{labels}}} 0" in text
    assert "scaleplan_stream_chunks_total{" in text
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{url}/other", timeout=TIMEOUT_S)
    assert missing.value.code == 404


def test_access_log_is_one_json_line_per_call(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scaleplan.access")
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=1, gen_tokens=1)
        with pytest.raises(sp.errors.InvalidArgumentError):
            client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=1, gen_tokens=0)
    assert wait_until(lambda: len(caplog.records) >= 2)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "scaleplan.access"]
    method = "/scaleplan.v1.PlannerService/InferenceCost"
    assert [(x["method"], x["code"]) for x in lines[-2:]] == [
        (method, "OK"),
        (method, "INVALID_ARGUMENT"),
    ]
    assert all(x["duration_ms"] >= 0 and x["peer"].startswith("ipv4:127.0.0.1:") for x in lines)
    assert all({"ts", "method", "code", "duration_ms", "peer"} <= set(x) for x in lines)


def test_message_size_limit() -> None:
    with (
        ServerThread(max_message_bytes=64 * 1024) as small,
        grpc.insecure_channel(small.target) as ch,
    ):
        request = planner_pb2.InferenceCostSweepRequest(model="qwen3-8b", hardware="h100-sxm")
        request.grid.prompt_tokens.append(1)
        request.grid.gen_tokens.extend(range(1, 20_001))  # 160 kB
        with pytest.raises(grpc.RpcError) as caught:
            list(stub(ch).InferenceCostSweep(request, timeout=TIMEOUT_S))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_drain_turns_health_not_serving_and_finishes_calls_in_flight() -> None:
    s = ServerThread(grace_s=10.0)
    with s, grpc.insecure_channel(s.target) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        # A sweep of about a second is in flight when the drain starts.
        request = big_sweep(chunk_points=4096)
        del request.grid.prompt_tokens[300:]
        points: list[int] = []
        errors: list[BaseException] = []

        def sweep() -> None:
            try:
                for message in stub(channel).InferenceCostSweep(request, timeout=TIMEOUT_S):
                    points.append(len(message.costs.total_flops))
            except BaseException as exc:
                errors.append(exc)

        reader = threading.Thread(target=sweep)
        reader.start()
        assert wait_until(lambda: len(points) > 0)
        assert s.loop is not None and s.server is not None
        stopping = __import__("asyncio").run_coroutine_threadsafe(s.server.stop(), s.loop)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()  # a watcher would otherwise hold the drain until the grace ends
        with pytest.raises(grpc.RpcError) as refused:  # new calls are refused while draining
            stub(channel).ListCatalog(planner_pb2.ListCatalogRequest(), timeout=TIMEOUT_S)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        stopping.result(TIMEOUT_S)
        reader.join(TIMEOUT_S)
        assert not errors and sum(points) == 300 * 1000  # the call in flight completed


# ---- TLS and the token ----


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (needed to make test certificates)")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=scaleplan test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl(
            "req",
            *ec,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
            cwd=d,
        )
    return d


def test_tls(pki: Path) -> None:
    with ServerThread(tls_cert=pki / "server.pem", tls_key=pki / "server.key") as s:
        with sp.Client(s.target, tls_ca=pki / "ca.pem", timeout_s=TIMEOUT_S) as client:
            assert client.model("qwen3-8b") == sp.model("qwen3-8b")
        with sp.Client(s.target, timeout_s=2) as plaintext, pytest.raises(grpc.RpcError) as caught:
            plaintext.catalog()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls(pki: Path) -> None:
    config: dict[str, Any] = {
        "tls_cert": pki / "server.pem",
        "tls_key": pki / "server.key",
        "tls_client_ca": pki / "ca.pem",
    }
    with ServerThread(**config) as s:
        with sp.Client(
            s.target,
            tls_ca=pki / "ca.pem",
            tls_cert=pki / "client.pem",
            tls_key=pki / "client.key",
            timeout_s=TIMEOUT_S,
        ) as client:
            assert client.health() == "SERVING"
            assert client.catalog()["models"]
        with sp.Client(s.target, tls_ca=pki / "ca.pem", timeout_s=2) as anonymous:
            with pytest.raises(grpc.RpcError) as caught:
                anonymous.catalog()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_token() -> None:
    with ServerThread(token="s3cret-token") as s:
        for token in (None, "wrong", "s3cret-token-but-longer"):
            with sp.Client(s.target, token=token, timeout_s=TIMEOUT_S) as client:
                with pytest.raises(grpc.RpcError) as caught:
                    client.catalog()
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
                chunks = client.iter_inference_cost_sweep(
                    "qwen3-8b", "h100-sxm", prompt_tokens=[1], gen_tokens=[1]
                )
                with pytest.raises(grpc.RpcError) as stream:
                    next(chunks)
                assert stream.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert client.health() == "SERVING"  # health checks are exempt
        with grpc.insecure_channel(s.target) as channel, pytest.raises(grpc.RpcError) as caught:
            ProtoReflectionDescriptorDatabase(channel).get_services()  # reflection is not exempt
        with sp.Client(s.target, token="s3cret-token", timeout_s=TIMEOUT_S) as client:
            assert client.catalog()["models"]
            sweep = client.iter_inference_cost_sweep(
                "qwen3-8b", "h100-sxm", prompt_tokens=[1], gen_tokens=[1]
            )
            assert len(list(sweep)) == 1
        assert s.server is not None
        method = "/scaleplan.v1.PlannerService/ListCatalog"
        assert s.server.metrics.handled(method, "UNAUTHENTICATED") == 3


def test_sweep_chunks_fit_the_message_limit() -> None:
    limit = 64 * 1024
    with (
        ServerThread(max_message_bytes=limit) as small,
        sp.Client(small.target, timeout_s=TIMEOUT_S, max_message_bytes=limit) as client,
    ):
        sweep = client.iter_inference_cost_sweep(
            "qwen3-8b",
            "h100-sxm",
            prompt_tokens=range(10),
            gen_tokens=range(1, 1001),
            chunk_size=8192,
        )
        sizes = [len(chunk.cost.flops) for chunk in sweep]
    assert sum(sizes) == 10_000 and max(sizes) == limit // 200


# ---- the metrics port (issue 11 item 11) ----


def _scrape(url: str | urllib.request.Request, **kwargs: Any) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S, **kwargs) as response:
        return str(response.read().decode())


def test_metrics_idle_connections_take_no_threads(server: ServerThread) -> None:
    """200 idle connections to the metrics port made 200 threads (ThreadingHTTPServer); the
    port is now served by the event loop, and a scrape still answers meanwhile."""
    assert server.server is not None and server.server.metrics_port
    before = threading.active_count()
    idle = [
        socket.create_connection(("127.0.0.1", server.server.metrics_port), timeout=TIMEOUT_S)
        for _ in range(200)
    ]
    try:
        time.sleep(0.2)  # time for a thread per connection to start, if there were
        assert threading.active_count() - before < 5
        text = _scrape(f"http://127.0.0.1:{server.server.metrics_port}/metrics")
        assert "scaleplan_grpc_server_in_flight" in text
    finally:
        for connection in idle:
            connection.close()


def test_metrics_port_has_the_grpc_ports_tls_and_token(pki: Path) -> None:
    config: dict[str, Any] = {
        "tls_cert": pki / "server.pem",
        "tls_key": pki / "server.key",
        "token": "s3cret-token",
        "metrics_port": 0,
    }
    with ServerThread(**config) as s:
        assert s.server is not None and s.server.metrics_port
        port = s.server.metrics_port
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            _scrape(f"http://127.0.0.1:{port}/metrics")  # plaintext is not served
        tls = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        url = f"https://127.0.0.1:{port}/metrics"
        for token in (None, "wrong"):
            request = urllib.request.Request(url)
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            with pytest.raises(urllib.error.HTTPError) as refused:
                _scrape(request, context=tls)
            assert refused.value.code == 401
        request = urllib.request.Request(url, headers={"Authorization": "Bearer s3cret-token"})
        assert "scaleplan_grpc_server_handled_total" in _scrape(request, context=tls)
