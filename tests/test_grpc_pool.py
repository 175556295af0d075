"""The server's worker pool and batched access log: results and errors come back to the loop, a
call cancelled before it starts never runs, shutdown cancels what is queued, and every access-log
line reaches its file (flushed while idle, and at close)."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
from grpc_support import wait_until
from scaleplan.grpc.server.cli import BatchedStreamHandler
from scaleplan.grpc.server.pool import CorePool


def test_pool_runs_calls_off_the_loop() -> None:
    async def main() -> None:
        pool = CorePool(2)
        try:
            loop_thread = threading.get_ident()

            def square(i: int) -> tuple[int, int]:
                return i * i, threading.get_ident()

            results = await asyncio.gather(*(pool.submit(square, i) for i in range(200)))
            assert [r for r, _ in results] == [i * i for i in range(200)]
            assert loop_thread not in {thread for _, thread in results}
            with pytest.raises(ZeroDivisionError):
                await pool.submit(lambda: 1 / 0)
        finally:
            pool.shutdown()

    asyncio.run(main())


def test_pool_skips_cancelled_calls_and_cancels_queued_ones_on_shutdown() -> None:
    async def main() -> None:
        pool = CorePool(1)
        gate, ran = threading.Event(), list[int]()
        blocker = pool.submit(gate.wait, 10)
        cancelled = pool.submit(ran.append, 1)
        cancelled.cancel()
        gate.set()
        assert await blocker
        await pool.submit(lambda: None)  # one worker, in order: it has passed the cancelled call
        assert ran == []

        gate.clear()
        pool.submit(gate.wait, 10)
        queued = pool.submit(ran.append, 2)
        threading.Timer(0.2, gate.set).start()  # shutdown waits for the running call
        pool.shutdown()
        assert queued.cancelled() and ran == []
        with pytest.raises(RuntimeError):
            pool.submit(lambda: None)

    asyncio.run(main())


def test_batched_access_log_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "access.jsonl"
    handler = BatchedStreamHandler(
        path.open("a", encoding="utf-8"), close_stream=True, interval_s=0.05, max_lines=100
    )
    logger = logging.getLogger("scaleplan.test-batched")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("first")
        assert wait_until(lambda: path.read_text() == "first\n")  # flushed while idle
        for i in range(1000):
            logger.info("%d", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert path.read_text().splitlines() == ["first", *map(str, range(1000))]
