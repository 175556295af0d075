"""Helpers of the gRPC tests: an in-process server on an ephemeral loopback port, run by its own
event loop in a thread, so tests call it with ordinary blocking clients."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import grpc
from scaleplan.server.app import PlannerServer, ServerConfig
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


def wait_until(predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
