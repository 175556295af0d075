"""``scaleplan serve``: its arguments (no gRPC import until the command runs)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

TOKEN_ENV = "SCALEPLAN_TOKEN"


def add_serve_command(sub: Any) -> None:
    """Add ``serve`` to the CLI's subparsers."""
    p = sub.add_parser(
        "serve",
        help="run the gRPC planning service",
        description="Serve scaleplan.v1.PlannerService (plus health and reflection) over gRPC. "
        "Binds to loopback unless told otherwise; SIGTERM or Ctrl-C drains calls in flight "
        "and exits 0.",
        epilog="example: scaleplan serve --port 50051 --metrics-port 9464",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=50051, help="0 picks a free port (default: 50051)")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    p.add_argument("--tls-cert", type=Path, help="server certificate chain (PEM)")
    p.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    p.add_argument("--tls-client-ca", type=Path, help="require client certificates from this CA")
    p.add_argument(
        "--token-file",
        type=Path,
        help=f"require 'authorization: Bearer <token>' with the token in this file "
        f"(or in ${TOKEN_ENV}); health checks are exempt",
    )
    limits = p.add_argument_group(
        "limits", "what exceeding each returns: see README.md (gRPC, Limits) and docs/server.md"
    )
    limits.add_argument(
        "--max-sweep",
        type=int,
        default=1_000_000,
        help="points per sweep, budgets per frontier (INVALID_ARGUMENT beyond; default: "
        "%(default)s)",
    )
    limits.add_argument(
        "--max-message-bytes",
        type=int,
        default=4 * 1024 * 1024,
        help="largest request or response message (RESOURCE_EXHAUSTED beyond; default: "
        "%(default)s)",
    )
    limits.add_argument(
        "--max-calls",
        type=int,
        default=64,
        help="planner calls served at once, health checks not counted (RESOURCE_EXHAUSTED "
        "beyond; default: %(default)s)",
    )
    limits.add_argument(
        "--max-request-bytes-in-flight",
        type=int,
        default=64 * 1024 * 1024,
        help="bytes of the requests of the calls being served, in all (RESOURCE_EXHAUSTED "
        "beyond; default: %(default)s)",
    )
    p.add_argument("--grace-s", type=float, default=10.0, help="drain period on SIGTERM")
    p.add_argument(
        "--workers",
        type=int,
        help="threads running core calls, per process (default: CPUs / --processes)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT), each with its own core pool; "
        "the kernel spreads connections over them, metrics are labelled by worker, SIGTERM "
        "drains them all, a worker that dies is restarted (1 to 64; default: %(default)s)",
    )
    p.add_argument(
        "--access-log",
        default="-",
        help="JSON-lines access log: '-' for stderr (default; written in batches, a crash "
        "loses at most the last 0.25 s), 'off', or a file path (written line by line)",
    )
    p.set_defaults(func=run)


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
        if not token:
            raise SystemExit(f"scaleplan serve: error: {args.token_file} is empty")
        return str(token)
    return os.environ.get(TOKEN_ENV) or None


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes its lines a batch at a time: every ``interval_s`` seconds (from a daemon thread),
    every ``max_lines`` lines, and when logging shuts down (at exit). A write and a flush per
    line cost the access log ~15 us a call under load, on the event loop."""

    def __init__(
        self, stream: TextIO, *, close_stream: bool, interval_s: float = 0.25, max_lines: int = 512
    ) -> None:
        super().__init__(stream)
        self._close_stream = close_stream
        self._max_lines = max_lines
        self._lines: list[str] = []
        self._closed = threading.Event()
        threading.Thread(
            target=self._flush_every, args=(interval_s,), name="scaleplan-access-log", daemon=True
        ).start()

    def emit(self, record: logging.LogRecord) -> None:  # called holding the handler's lock
        try:
            self._lines.append(self.format(record))
            if len(self._lines) >= self._max_lines:
                self.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.acquire()
        try:
            if not self.stream.closed:  # the flushing thread may come once more after close
                if self._lines:
                    self.stream.write("\n".join(self._lines) + "\n")
                    self._lines.clear()
                self.stream.flush()
        finally:
            self.release()

    def _flush_every(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self.flush()
        if self._close_stream:
            self.stream.close()
        super().close()


class _WorkerFormatter(logging.Formatter):
    """Adds ``"worker": i`` to each access-log line of a ``--processes`` worker."""

    def __init__(self, worker: int) -> None:
        super().__init__("%(message)s")
        self._suffix = f', "worker": {worker}}}'

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line[:-1] + self._suffix if line.endswith("}") else line


def configure_logging(access_log: str, worker: int | None = None) -> None:
    """The server's error log (stderr) and access log; a ``--processes`` worker labels its
    access-log lines with its index."""
    server = logging.getLogger("scaleplan.grpc.server")
    if not server.handlers:
        errors = logging.StreamHandler(sys.stderr)
        errors.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        server.addHandler(errors)
        server.setLevel(logging.INFO)
    access = logging.getLogger("scaleplan.access")
    access.propagate = False
    if access_log == "off":
        access.setLevel(logging.WARNING)
        return
    access.setLevel(logging.INFO)
    handler: logging.Handler
    if access_log == "-":
        # Batched: a crash loses at most the last 0.25 s (or 512 lines) written to stderr.
        handler = BatchedStreamHandler(sys.stderr, close_stream=False)
    else:
        # A file gets each line as the call ends (one write and flush, ~10 us): a crash of
        # the process loses none (docs/server.md, "Access log and metrics").
        handler = logging.FileHandler(access_log, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(message)s") if worker is None else _WorkerFormatter(worker)
    )
    access.addHandler(handler)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from scaleplan.grpc.server.app import ServerConfig, serve

    config = ServerConfig(
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        token=_token(args),
        max_sweep_points=args.max_sweep,
        grace_s=args.grace_s,
        max_message_bytes=args.max_message_bytes,
        workers=args.workers,
        max_calls=args.max_calls,
        max_request_bytes_in_flight=args.max_request_bytes_in_flight,
        processes=args.processes,
    )
    try:
        config.check()
    except ValueError as exc:
        print(f"scaleplan serve: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.access_log)
    try:
        if config.processes > 1:
            from scaleplan.grpc.server.processes import serve_processes

            return asyncio.run(serve_processes(config, args.access_log))
        return asyncio.run(serve(config))
    except OSError as exc:  # the port, or a certificate file
        print(f"scaleplan serve: error: {exc}", file=sys.stderr)
        return 1
