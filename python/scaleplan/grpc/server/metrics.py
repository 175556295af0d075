"""Prometheus metrics of the server, in the text exposition format, on an optional HTTP port.

Standard library only: a handful of counters, one histogram and one gauge do not justify a
dependency. Updates come from the event loop and the worker threads, so every read and write
holds one lock; scrapes are served by the event loop (a render takes ~0.1 ms).
"""

from __future__ import annotations

import asyncio
import bisect
import hmac
import socket
import ssl
import threading
from collections import defaultdict

# Latency histogram bucket bounds, seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def split_method(method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` -> (``pkg.Service``, ``Method``)."""
    _, service, name = [*method.split("/"), "", ""][:3]
    return service, name


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


class Metrics:
    """Requests by method and code, a latency histogram by method, calls in flight by method,
    and chunks computed by streaming methods."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handled: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sum: defaultdict[str, float] = defaultdict(float)
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self._chunks: defaultdict[str, int] = defaultdict(int)

    def started(self, method: str) -> None:
        with self._lock:
            self._in_flight[method] += 1

    def finished(self, method: str, code: str, seconds: float) -> None:
        with self._lock:
            self._in_flight[method] -= 1
            self._handled[(method, code)] += 1
            counts = self._buckets.setdefault(method, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum[method] += seconds

    def chunk_computed(self, method: str) -> None:
        with self._lock:
            self._chunks[method] += 1

    def chunks(self, method: str) -> int:
        """Chunks computed so far by a streaming method (``/pkg.Service/Method``)."""
        with self._lock:
            return self._chunks[method]

    def handled(self, method: str, code: str) -> int:
        with self._lock:
            return self._handled[(method, code)]

    def in_flight(self, method: str | None = None) -> int:
        with self._lock:
            if method is None:
                return sum(self._in_flight.values())
            return self._in_flight[method]

    def render(self) -> str:
        """The metrics in the Prometheus text format."""
        lines: list[str] = []
        with self._lock:
            lines += [
                "# HELP scaleplan_grpc_server_handled_total RPCs completed, by method and code.",
                "# TYPE scaleplan_grpc_server_handled_total counter",
            ]
            for (method, code), n in sorted(self._handled.items()):
                service, name = split_method(method)
                labels = _labels(grpc_service=service, grpc_method=name, grpc_code=code)
                lines.append(f"scaleplan_grpc_server_handled_total{labels} {n}")
            lines += [
                "# HELP scaleplan_grpc_server_handling_seconds Time to complete an RPC.",
                "# TYPE scaleplan_grpc_server_handling_seconds histogram",
            ]
            for method, counts in sorted(self._buckets.items()):
                service, name = split_method(method)
                cumulative = 0
                for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
                    cumulative += count
                    labels = _labels(grpc_service=service, grpc_method=name, le=bound)
                    lines.append(
                        f"scaleplan_grpc_server_handling_seconds_bucket{labels} {cumulative}"
                    )
                labels = _labels(grpc_service=service, grpc_method=name)
                lines.append(
                    f"scaleplan_grpc_server_handling_seconds_sum{labels} {self._sum[method]}"
                )
                lines.append(f"scaleplan_grpc_server_handling_seconds_count{labels} {cumulative}")
            lines += [
                "# HELP scaleplan_grpc_server_in_flight RPCs being served now.",
                "# TYPE scaleplan_grpc_server_in_flight gauge",
            ]
            for method, n in sorted(self._in_flight.items()):
                service, name = split_method(method)
                labels = _labels(grpc_service=service, grpc_method=name)
                lines.append(f"scaleplan_grpc_server_in_flight{labels} {n}")
            lines += [
                "# HELP scaleplan_stream_chunks_total Chunks computed by streaming RPCs.",
                "# TYPE scaleplan_stream_chunks_total counter",
            ]
            for method, n in sorted(self._chunks.items()):
                service, name = split_method(method)
                labels = _labels(grpc_service=service, grpc_method=name)
                lines.append(f"scaleplan_stream_chunks_total{labels} {n}")
        return "\n".join(lines) + "\n"


class MetricsHTTPServer:
    """``GET /metrics`` on ``host:port`` (0: any free port), served by the gRPC server's event
    loop: no thread per connection (200 idle connections once made 200 threads), at most
    ``MAX_CONNECTIONS`` open (more are closed at once), each closed after one request or
    ``TIMEOUT_S`` of silence. Given an ``ssl_context`` it speaks HTTPS only (the gRPC port's
    certificate, and its client CA when mutual TLS is on); given a ``token`` it requires
    ``Authorization: Bearer <token>`` (401 otherwise), as the gRPC port does. See
    docs/server.md, "Access log and metrics"."""

    MAX_CONNECTIONS = 256
    TIMEOUT_S = 5.0
    MAX_HEAD_BYTES = 8192

    def __init__(
        self,
        metrics: Metrics,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        token: str | None = None,
    ) -> None:
        self._metrics = metrics
        self._ssl = ssl_context
        self._expected = None if token is None else f"bearer {token}".encode()
        bind = host.strip("[]")
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        # Bound now, so that the port is known (and a taken one fails) before start().
        self._socket = socket.create_server((bind, port), family=family, backlog=128)
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._open = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve,
            sock=self._socket,
            ssl=self._ssl,
            ssl_handshake_timeout=self.TIMEOUT_S if self._ssl else None,
            limit=self.MAX_HEAD_BYTES,
        )

    async def stop(self) -> None:
        if self._server is None:
            self._socket.close()
            return
        self._server.close()
        # Connections end within TIMEOUT_S by themselves; do not wait for them.

    @property
    def open_connections(self) -> int:
        return self._open

    def _authorized(self, head: bytes) -> bool:
        if self._expected is None:
            return True
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"authorization":
                got = value.strip()
                # The scheme is case-insensitive (RFC 7235); the token is compared in
                # constant time.
                return hmac.compare_digest(got[:7].lower() + got[7:], self._expected)
        return False

    def _respond(self, head: bytes) -> tuple[str, bytes, list[tuple[str, str]]]:
        method, _, rest = head.partition(b" ")
        target = rest.partition(b" ")[0].split(b"?")[0]
        if method not in (b"GET", b"HEAD"):
            return "405 Method Not Allowed", b"GET only\n", [("Allow", "GET, HEAD")]
        if not self._authorized(head):
            return "401 Unauthorized", b"bearer token required\n", [("WWW-Authenticate", "Bearer")]
        if target != b"/metrics":
            return "404 Not Found", b"not found (try /metrics)\n", []
        return "200 OK", self._metrics.render().encode(), [("Content-Type", CONTENT_TYPE)]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= self.MAX_CONNECTIONS:
            writer.close()
            return
        self._open += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.TIMEOUT_S)
            status, body, headers = self._respond(head)
            lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in headers]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            if not head.startswith(b"HEAD "):
                writer.write(body)
            await asyncio.wait_for(writer.drain(), self.TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # silent, too long, gone, or not TLS: nothing to answer
        finally:
            self._open -= 1
            writer.close()
