"""Helpers of the gRPC tests: an in-process server on an ephemeral loopback port, run by its own
event loop in a thread, so tests call it with ordinary blocking clients."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
from scaleplan.grpc.server.app import PlannerServer, ServerConfig
from scaleplan.v1 import planner_pb2_grpc

T = TypeVar("T")

TIMEOUT_S = 10.0
SWEEP = "/scaleplan.v1.PlannerService/InferenceCostSweep"


class ServerThread:
    """``with ServerThread(token=...) as s:`` serves on ``s.target`` until the block ends."""

    def __init__(self, **config: Any) -> None:
        config.setdefault("port", 0)
        config.setdefault("grace_s", 0.0)
        self.config = ServerConfig(**config)
        self._ready = threading.Event()
        self._done: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: PlannerServer | None = None
        self._thread = threading.Thread(target=self._main, name="grpc-test-server", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            try:
                self.server = PlannerServer(self.config)
                await self.server.start()
                self.loop = asyncio.get_running_loop()
                self._done = asyncio.Event()
            except BaseException as exc:
                self._error = exc
                raise
            finally:
                self._ready.set()
            await self._done.wait()

        asyncio.run(main())

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(TIMEOUT_S):
            raise TimeoutError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    @property
    def target(self) -> str:
        assert self.server is not None
        return self.server.target

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = TIMEOUT_S) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self, grace_s: float = 0.0, timeout_s: float = TIMEOUT_S) -> None:
        if self.server is not None and self._done is not None and not self._done.is_set():
            self.run(self.server.stop(grace_s), timeout_s)
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self._done.set)
        self._thread.join(timeout_s)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stub(channel: grpc.Channel) -> planner_pb2_grpc.PlannerServiceStub:
    return planner_pb2_grpc.PlannerServiceStub(channel)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def wait_until(predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class ServeProcess:
    """``scaleplan serve --port 0 ARGS...`` as a child process (the real entry point, with its
    logging set-up): ``with ServeProcess("--access-log", path) as p:`` serves on ``p.target``;
    ``p.alive()`` tells whether it still runs. The block's end kills it."""

    def __init__(self, *args: str) -> None:
        self.args = ["--port", "0", "--grace-s", "0", *args]
        self.lines: queue.Queue[str] = queue.Queue()
        self.target = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServeProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("SCALEPLAN_TOKEN", None)
        self.proc = proc = subprocess.Popen(
            [sys.executable, "-m", "scaleplan.cli", "serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 30
        while not self.target and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None:
                    raise AssertionError(f"serve exited: {self.exit_status()}") from None
                continue
            if m := re.search(r"listening on (\S+)", line):
                self.target = m.group(1)
        if not self.target:
            self.__exit__()
            raise AssertionError("serve did not print its address")
        return self

    def alive(self) -> bool:
        assert self.proc is not None
        return self.proc.poll() is None

    def stderr(self) -> str:
        """What the process wrote to stderr (once it has exited)."""
        assert self.proc is not None and self.proc.stderr is not None
        return "" if self.alive() else self.proc.stderr.read()

    def exit_status(self) -> str:
        """How the process ended (-11: SIGSEGV) and the end of its stderr."""
        assert self.proc is not None
        return f"exit status {self.proc.poll()}: {self.stderr()[-2000:]}"

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT_S)


def assert_same(got: Any, want: Any, path: str = "") -> None:
    """Equal field by field, exactly, through nested dataclasses and dicts (arrays: same shape,
    kind and values; NaN, which means "not applicable", equals NaN and only NaN)."""
    assert type(got) is type(want), path
    if dataclasses.is_dataclass(want):
        for f in dataclasses.fields(want):
            assert_same(getattr(got, f.name), getattr(want, f.name), f"{path}.{f.name}")
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for k in want:
            assert_same(got[k], want[k], f"{path}[{k}]")
    elif isinstance(want, np.ndarray):
        assert got.shape == want.shape and got.dtype.kind == want.dtype.kind, path
        assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), path
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got), path
    else:
        assert got == want, path
