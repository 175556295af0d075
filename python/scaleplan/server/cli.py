"""``scaleplan serve``: its arguments (no gRPC import until the command runs)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

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
    p.add_argument("--max-sweep", type=int, default=1_000_000, help="points per sweep at most")
    p.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024)
    p.add_argument("--grace-s", type=float, default=10.0, help="drain period on SIGTERM")
    p.add_argument("--workers", type=int, help="threads running core calls (default: CPUs)")
    p.add_argument(
        "--access-log",
        default="-",
        help="JSON-lines access log: '-' for stderr (default), 'off', or a file path",
    )
    p.set_defaults(func=run)


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
        if not token:
            raise SystemExit(f"scaleplan serve: error: {args.token_file} is empty")
        return str(token)
    return os.environ.get(TOKEN_ENV) or None


def _logging(access_log: str) -> None:
    server = logging.getLogger("scaleplan.server")
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
    handler: logging.Handler = (
        logging.StreamHandler(sys.stderr)
        if access_log == "-"
        else logging.FileHandler(access_log, encoding="utf-8")
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from scaleplan.server.app import ServerConfig, serve

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
    )
    try:
        config.check()
    except ValueError as exc:
        print(f"scaleplan serve: error: {exc}", file=sys.stderr)
        return 2
    _logging(args.access_log)
    try:
        return asyncio.run(serve(config))
    except OSError as exc:  # the port, or a certificate file
        print(f"scaleplan serve: error: {exc}", file=sys.stderr)
        return 1
