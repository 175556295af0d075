"""Prometheus metrics of the server, in the text exposition format, on an optional HTTP port.

Standard library only: a handful of counters, one histogram and one gauge do not justify a
dependency. Updates come from the event loop and the worker threads, scrapes from the HTTP
thread, so every read and write holds one lock.
"""

from __future__ import annotations

import bisect
import socket
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    """``GET /metrics`` on ``host:port`` (0: any free port) in a daemon thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = metrics.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes are not access-logged

        bind = host.strip("[]")

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET
            daemon_threads = True

        self._httpd = Server((bind, port), Handler)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="scaleplan-metrics", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
