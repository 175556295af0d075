"""``scaleplan serve --processes N``: N server processes on one port (docs/server.md, "Several
processes on one port").

The supervisor (this process) reserves the port, starts N workers (``multiprocessing`` spawn),
each a whole :class:`~scaleplan.grpc.server.app.PlannerServer` bound with ``SO_REUSEPORT`` and a
core pool of its own, prints the banner once every worker is serving, serves the metrics port
(every worker's metrics, labelled ``worker="i"``), restarts a worker that dies, and on SIGTERM or
SIGINT tells every worker to drain and waits for them. The kernel spreads *connections* over the
workers; one client spreads its calls with ``Client(target, connections=K)``.

Workers answer the supervisor over a pipe: ``("ready", None)`` once serving (or ``("error",
text)``), then one metrics rendering per request. A worker whose pipe reaches end-of-file (the
supervisor died, even by SIGKILL) drains and exits, so no worker outlives its supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from scaleplan.grpc.server.app import PlannerServer, ServerConfig, _ssl_context, address, banner
from scaleplan.grpc.server.metrics import MetricsHTTPServer

log = logging.getLogger("scaleplan.grpc.server")

READY_TIMEOUT_S = 120.0
"""How long a worker may take to import, load the catalog and bind before the start fails."""
RENDER_TIMEOUT_S = 2.0
"""How long a scrape waits for one worker's metrics before reporting it as not up."""
RESTARTS_PER_MINUTE = 5
"""A worker that dies more often than this gives up the whole server (exit status 1)."""


# ---- the worker ----------------------------------------------------------------------------


def _worker_main(
    config: ServerConfig, index: int, conn: multiprocessing.connection.Connection, access_log: str
) -> None:
    from scaleplan.grpc.server.cli import configure_logging

    configure_logging(access_log, worker=index)
    try:
        code = asyncio.run(_worker(config, index, conn))
    except KeyboardInterrupt:  # a Ctrl-C before the signal handlers were installed
        code = 0
    sys.exit(code)


async def _worker(
    config: ServerConfig, index: int, conn: multiprocessing.connection.Connection
) -> int:
    try:
        server = PlannerServer(config)
        await server.start()
    except Exception as exc:
        conn.send(("error", f"worker {index}: {exc}"))
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def answer() -> None:
        # One metrics rendering per request; end-of-file means the supervisor is gone.
        try:
            while conn.recv() == "metrics":
                conn.send(server.metrics.render())
        except (EOFError, OSError):
            pass
        loop.call_soon_threadsafe(stop.set)

    conn.send(("ready", None))
    threading.Thread(target=answer, name="scaleplan-worker-pipe", daemon=True).start()
    gc.freeze()  # as serve() does: what is loaded now lives as long as the process
    await stop.wait()
    log.info("worker %d draining: %d calls in flight", index, server.metrics.in_flight())
    await server.stop()
    return 0


# ---- the supervisor ------------------------------------------------------------------------


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to ``host:port`` with ``SO_REUSEPORT``: it fixes the port
    (0 picks one) and fails when another program already listens there without the option."""
    bind = host.strip("[]")
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {address(host, port)} ({exc.strerror})") from exc
    return sock


def label_worker(text: str, index: int) -> list[tuple[str, list[str]]]:
    """A worker's metrics split by family: (HELP and TYPE lines, samples with ``worker="i"``
    added as their first label)."""
    families: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP"):
            families.append((line, []))
        elif line.startswith("#"):
            head, samples = families[-1]
            families[-1] = (f"{head}\n{line}", samples)
        else:
            name, brace, rest = line.partition("{")
            label = f'worker="{index}"'
            if brace and rest.startswith("}"):
                sample = f"{name}{{{label}{rest}"
            elif brace:
                sample = f"{name}{{{label},{rest}"
            else:
                metric, _, value = line.partition(" ")
                sample = f"{metric}{{{label}}} {value}"
            families[-1][1].append(sample)
    return families


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: Any = None
        self.conn: multiprocessing.connection.Connection | None = None
        self.ready = False
        """Set once the worker said it serves: until then its pipe carries only that word, and
        scrapes leave it alone (reported as not up)."""
        self.lock = threading.Lock()


class Supervisor:
    """The workers of one ``serve --processes N``, as an object: ``start`` (returns once all
    serve), ``run`` (until a signal), ``stop``. ``render`` gives the merged metrics."""

    def __init__(self, config: ServerConfig, access_log: str = "off") -> None:
        config.check()
        self.config = config
        self._access_log = access_log
        self._reservation = reserve_port(config.host, config.port)
        self.port: int = self._reservation.getsockname()[1]
        cpus = os.cpu_count() or 2
        self._worker_config = dataclasses.replace(
            config,
            port=self.port,
            reuse_port=True,
            metrics_port=None,
            processes=1,
            workers=config.workers or max(1, cpus // config.processes),
        )
        self._context = multiprocessing.get_context("spawn")
        self._workers = [_Worker(i) for i in range(config.processes)]
        self._restarts: list[float] = []
        self.restarts = 0
        self._stopping = False
        self._metrics_http: MetricsHTTPServer | None = None
        self.metrics_port: int | None = None

    @property
    def target(self) -> str:
        return address(self.config.host, self.port)

    def _spawn(self, worker: _Worker) -> None:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main,
            args=(self._worker_config, worker.index, theirs, self._access_log),
            name=f"scaleplan-worker-{worker.index}",
            daemon=False,
        )
        process.start()
        theirs.close()
        worker.process, worker.conn, worker.ready = process, ours, False

    def _await_ready(self, workers: Sequence[_Worker]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for worker in workers:
            assert worker.conn is not None
            try:
                if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                    raise OSError(f"worker {worker.index} did not start in {READY_TIMEOUT_S:g} s")
                kind, text = worker.conn.recv()
            except EOFError:
                code = worker.process.exitcode if worker.process else None
                raise OSError(f"worker {worker.index} exited while starting ({code})") from None
            if kind != "ready":
                raise OSError(str(text))
            worker.ready = True

    async def start(self) -> None:
        try:
            for worker in self._workers:
                self._spawn(worker)
            await asyncio.get_running_loop().run_in_executor(None, self._await_ready, self._workers)
            if self.config.metrics_port is not None:
                self._metrics_http = MetricsHTTPServer(
                    self,  # type: ignore[arg-type]  # anything with render()
                    self.config.host,
                    self.config.metrics_port,
                    ssl_context=_ssl_context(self.config),
                    token=self.config.token or None,
                )
                await self._metrics_http.start()
                self.metrics_port = self._metrics_http.port
        except BaseException:
            await self.stop(grace_s=0.0)
            raise

    def render(self) -> str:
        """Every worker's metrics, each sample labelled with its worker, plus
        ``scaleplan_worker_up`` and ``scaleplan_worker_restarts_total``."""
        merged: dict[str, list[str]] = {}
        up: list[str] = []
        for worker in self._workers:
            text = self._worker_metrics(worker)
            up.append(f'scaleplan_worker_up{{worker="{worker.index}"}} {int(text is not None)}')
            for head, samples in label_worker(text or "", worker.index):
                merged.setdefault(head, []).extend(samples)
        lines = [
            "# HELP scaleplan_worker_up Whether the worker process answered this scrape.",
            "# TYPE scaleplan_worker_up gauge",
            *up,
            "# HELP scaleplan_worker_restarts_total Worker processes restarted after dying.",
            "# TYPE scaleplan_worker_restarts_total counter",
            f"scaleplan_worker_restarts_total {self.restarts}",
        ]
        for head, samples in merged.items():
            lines += [head, *samples]
        return "\n".join(lines) + "\n"

    def _worker_metrics(self, worker: _Worker) -> str | None:
        with worker.lock:
            conn = worker.conn
            if conn is None or not worker.ready or self._stopping:
                return None
            try:
                conn.send("metrics")
                if not conn.poll(RENDER_TIMEOUT_S):
                    return None
                text = conn.recv()
            except (EOFError, OSError):
                return None
            return text if isinstance(text, str) else None

    async def run(self) -> int:
        """Serve until SIGTERM or SIGINT (then drain every worker); restart a worker that dies.
        0 when every worker drained cleanly."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
            if not stop.is_set() and not await self._restart_dead():
                await self.stop(grace_s=0.0)
                return 1
        return await self.stop()

    async def _restart_dead(self) -> bool:
        for worker in self._workers:
            if worker.process is None or worker.process.is_alive():
                continue
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < 60.0] + [now]
            log.error(
                "worker %d exited with status %s; restarting it",
                worker.index,
                worker.process.exitcode,
            )
            if len(self._restarts) > RESTARTS_PER_MINUTE:
                log.error("workers died %d times in a minute: stopping", len(self._restarts))
                return False
            with worker.lock:
                self._spawn(worker)
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._await_ready, [worker])
            except OSError as exc:
                log.error("%s", exc)
                return False
            self.restarts += 1
        return True

    async def stop(self, grace_s: float | None = None) -> int:
        """SIGTERM to every worker (each drains for ``grace_s``, default the config's), wait for
        them, SIGKILL any still running 5 s after the grace. 0 when all exited with 0."""
        grace = self.config.grace_s if grace_s is None else grace_s
        self._stopping = True
        running = [w.process for w in self._workers if w.process is not None]
        for process in running:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace + 5.0

        def join() -> None:
            for process in running:
                process.join(max(0.0, deadline - time.monotonic()))
                if process.is_alive():
                    process.kill()
                    process.join()

        await asyncio.get_running_loop().run_in_executor(None, join)
        for worker in self._workers:
            if worker.conn is not None:
                worker.conn.close()
        if self._metrics_http:
            await self._metrics_http.stop()
        self._reservation.close()
        return 0 if all(p.exitcode == 0 for p in running) else 1


async def serve_processes(config: ServerConfig, access_log: str, out: TextIO = sys.stdout) -> int:
    """``serve`` with ``config.processes`` > 1: start the workers, print the banner, run until a
    signal, drain."""
    supervisor = Supervisor(config, access_log)
    await supervisor.start()
    print(banner(supervisor), file=out, flush=True)
    return await supervisor.run()
