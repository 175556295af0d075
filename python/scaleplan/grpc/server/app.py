"""Assembly of the gRPC server: services, interceptors, limits, TLS, metrics, signals and drain.

``PlannerServer`` is the server as an object (tests run it in-process on port 0); ``serve`` runs
one until SIGTERM or SIGINT, then drains: health turns NOT_SERVING, new calls are refused,
calls in flight get up to ``grace_s`` seconds to finish, and it returns 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shlex
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scaleplan.catalog import Catalog, catalog_or_default
from scaleplan.grpc.server.interceptors import Admission, CallInterceptor
from scaleplan.grpc.server.metrics import Metrics, MetricsHTTPServer
from scaleplan.grpc.server.pool import CorePool
from scaleplan.grpc.server.service import SERVICE, Limits, PlannerService
from scaleplan.v1 import planner_pb2_grpc

log = logging.getLogger("scaleplan.grpc.server")

LOOPBACK = ("127.0.0.1", "::1", "localhost", "[::1]")
MAX_PROCESSES = 64
"""The most ``serve --processes`` starts (each holds a catalog, a core pool and ~100 MB)."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051
    """0 binds any free port (``PlannerServer.port`` tells which)."""
    metrics_port: int | None = None
    """Serve Prometheus metrics on http://host:metrics_port/metrics (0: any free port)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    """With TLS: require client certificates signed by this CA (mutual TLS)."""
    token: str | None = None
    """Require ``authorization: Bearer <token>`` on every call but health checks."""
    max_sweep_points: int = Limits.max_sweep_points
    grace_s: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    workers: int | None = None
    """Threads running core calls; default: the CPU count (the core releases the GIL)."""
    max_calls: int = 64
    """PlannerService calls served at once (each has at most one job queued for the workers);
    more are refused with RESOURCE_EXHAUSTED. Health checks are not counted."""
    processes: int = 1
    """Server processes sharing the port (``SO_REUSEPORT``), each with its own core pool of
    ``workers`` threads (default: CPUs / processes); limits such as ``max_calls`` hold per
    process. See docs/server.md, "Several processes on one port"."""
    reuse_port: bool = False
    """Bind with ``SO_REUSEPORT`` (set for the workers of ``processes`` > 1; otherwise a port in
    use is an error)."""
    max_request_bytes_in_flight: int = 64 * 1024 * 1024
    """Bytes of the requests of the PlannerService calls being served, in all: when they leave
    no room for a message of ``max_message_bytes``, new calls are refused with
    RESOURCE_EXHAUSTED before their request is read, and a request read that would pass it is
    refused too (a lone call is always admitted)."""

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def check(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        if self.max_sweep_points < 1 or self.max_message_bytes < 1024:
            raise ValueError("limits must be positive (--max-message-bytes at least 1024)")
        if self.max_calls < 1 or self.max_request_bytes_in_flight < 1:
            raise ValueError("--max-calls and --max-request-bytes-in-flight must be positive")
        if self.workers is not None and self.workers < 1:
            raise ValueError("--workers must be positive")
        if self.grace_s < 0:
            raise ValueError("--grace-s must not be negative")
        if not 1 <= self.processes <= MAX_PROCESSES:
            raise ValueError(f"--processes must be 1 to {MAX_PROCESSES} (got {self.processes})")


def address(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if ":" in host.strip("[]") else f"{host}:{port}"


def _ssl_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The metrics port's TLS: the gRPC port's certificate and client CA."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    if config.tls_client_ca is not None:
        context.load_verify_locations(config.tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    ca = config.tls_client_ca.read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


class PlannerServer:
    """PlannerService plus health and reflection on one grpc.aio server. Create it, ``start``
    and ``stop`` it inside one running event loop."""

    def __init__(self, config: ServerConfig, catalog: Catalog | None = None) -> None:
        config.check()
        self.config = config
        self.metrics = Metrics()
        self.health = health.aio.HealthServicer()
        self._pool = CorePool(config.workers or max(2, os.cpu_count() or 2))
        self._server = grpc.aio.server(
            # One interceptor, not one per concern: each adds coroutine layers to every call.
            interceptors=[
                CallInterceptor(
                    self.metrics,
                    config.token or None,
                    Admission(
                        config.max_calls,
                        config.max_request_bytes_in_flight,
                        config.max_message_bytes,
                    ),
                    config.max_message_bytes,
                )
            ],
            options=[
                ("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                ("grpc.so_reuseport", int(config.reuse_port)),
            ],
        )
        self.service = PlannerService(
            catalog_or_default(catalog),
            self._pool,
            self.metrics,
            Limits.for_message_size(config.max_sweep_points, config.max_message_bytes),
        )
        planner_pb2_grpc.add_PlannerServiceServicer_to_server(self.service, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection(
            [SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        bind = address(config.host, config.port)
        try:
            credentials = _credentials(config)
            if credentials is None:
                self.port = self._server.add_insecure_port(bind)
            else:
                self.port = self._server.add_secure_port(bind, credentials)
        except RuntimeError:  # what grpc raises when the port is taken
            self.port = 0
        if self.port == 0:
            self._pool.shutdown()
            raise OSError(f"cannot listen on {bind} (in use, or not an address of this host)")
        self._metrics_http: MetricsHTTPServer | None = None
        if config.metrics_port is not None:
            # The same protection as the gRPC port: its TLS (and client CA) and its token.
            try:
                self._metrics_http = MetricsHTTPServer(
                    self.metrics,
                    config.host,
                    config.metrics_port,
                    ssl_context=_ssl_context(config),
                    token=config.token or None,
                )
            except OSError:
                self._pool.shutdown()
                raise
        self.metrics_port = self._metrics_http.port if self._metrics_http else None

    @property
    def target(self) -> str:
        return address(self.config.host, self.port)

    async def start(self) -> None:
        await self._server.start()
        await self.health.set(health.OVERALL_HEALTH, health_pb2.HealthCheckResponse.SERVING)
        await self.health.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
        if self._metrics_http:
            await self._metrics_http.start()
        if self.config.host not in LOOPBACK and not (self.config.tls and self.config.token):
            log.warning(
                "serving on %s without %s: anyone who can reach it can call it",
                self.target,
                " and ".join(
                    w
                    for w, off in (("TLS", not self.config.tls), ("a token", not self.config.token))
                    if off
                ),
            )

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain: NOT_SERVING, refuse new calls, give calls in flight ``grace_s`` to finish
        (then cancel them), stop the worker pool and the metrics port."""
        grace = self.config.grace_s if grace_s is None else grace_s
        await self.health.enter_graceful_shutdown()
        # At the end of the grace, calls still running stop their core work too (a cancelled
        # RPC's done callbacks run only once its handler returns).
        expire = asyncio.get_running_loop().call_later(grace, self.service.cancel_all)
        await self._server.stop(grace)
        expire.cancel()
        self._pool.shutdown()
        if self._metrics_http:
            await self._metrics_http.stop()

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


class Listening(Protocol):
    """What the banner needs of a server: a ``PlannerServer`` or a ``serve --processes``
    supervisor."""

    config: ServerConfig
    metrics_port: int | None

    @property
    def target(self) -> str: ...


def banner(server: Listening) -> str:
    """How to call the server: the bound address, a grpcurl line and a Python one-liner."""
    c = server.config
    target = server.target
    security = "TLS" + (" (client certificates required)" if c.tls_client_ca else "")
    grpcurl = ["grpcurl"]
    client_args = [repr(target)]
    if c.tls:
        grpcurl += ["-cacert", str(c.tls_cert)]
        client_args.append(f"tls_ca={str(c.tls_cert)!r}")
        if c.tls_client_ca:
            grpcurl += ["-cert", "CLIENT.pem", "-key", "CLIENT.key"]
            client_args += ["tls_cert='CLIENT.pem'", "tls_key='CLIENT.key'"]
    else:
        grpcurl.append("-plaintext")
        security = "plaintext"
    if c.token:
        grpcurl += ["-H", "authorization: Bearer $SCALEPLAN_TOKEN"]
        client_args.append("token=os.environ['SCALEPLAN_TOKEN']")
        security += ", bearer token required"
    request = (
        '{"model": "qwen3-8b", "hardware": "h100-sxm", "prompt_tokens": 512, "gen_tokens": 8192}'
    )
    grpcurl += ["-d", request, target, f"{SERVICE}/InferenceCost"]
    grpcurl_line = " ".join(
        '"authorization: Bearer $SCALEPLAN_TOKEN"'
        if a.startswith("authorization")
        else shlex.quote(a)
        for a in grpcurl
    )
    imports = "import os, scaleplan" if c.token else "import scaleplan"
    python = (
        f"{imports}; print(scaleplan.Client({', '.join(client_args)})"
        ".inference_cost('qwen3-8b', 'h100-sxm', prompt_tokens=512, gen_tokens=8192))"
    )
    lines = [
        f"scaleplan serve: listening on {target} ({security})",
        f"  services: {SERVICE}, grpc.health.v1.Health, server reflection",
    ]
    if c.processes > 1:
        lines.append(
            f"  workers:  {c.processes} processes on this port (the kernel spreads connections; "
            f"one client spreads its calls with Client(target, connections={c.processes}))"
        )
    if server.metrics_port is not None:
        scheme = "https" if c.tls else "http"
        lines.append(f"  metrics:  {scheme}://{address(c.host, server.metrics_port)}/metrics")
    lines += [
        f"  grpcurl:  {grpcurl_line}",
        f'  python:   python -c "{python}"',
        f"  stop:     Ctrl-C or SIGTERM (calls in flight get {c.grace_s:g} s to finish)",
    ]
    return "\n".join(lines)


async def serve(config: ServerConfig, out: TextIO = sys.stdout) -> int:
    """Run a server until SIGTERM or SIGINT, then drain it; 0 when it stopped cleanly."""
    server = PlannerServer(config)
    await server.start()
    print(banner(server), file=out, flush=True)
    # What is loaded by now (grpc, protobuf, numpy, the catalog: ~36,000 objects) lives as long
    # as the process: keep it out of the cyclic collector's full passes. Under load they came
    # every few seconds and stalled the event loop ~13 ms each (1 ms once frozen).
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    in_flight = server.metrics.in_flight()
    log.info("draining: %d calls in flight, grace %g s", in_flight, config.grace_s)
    await server.stop()
    log.info("stopped")
    return 0
