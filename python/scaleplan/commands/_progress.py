"""A tiny progress bar on stderr, drawn only when stderr is a terminal (never into pipes or
log files)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO, TypeVar

from scaleplan._arrays import FloatArray
from scaleplan.sweep import budget_chunks

_T = TypeVar("_T")


class Progress:
    """``with Progress(total, "rows") as bar: bar.advance(n)``; redraws at most 10 times a
    second, and clears its line when done."""

    WIDTH = 30

    def __init__(self, total: int, unit: str = "rows", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = max(total, 1)
        self.unit = unit
        self.done = 0
        self.start = time.monotonic()
        self._drawn = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.WIDTH)
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(
            f"\r[{bar}] {share:4.0%} {self.done:,}/{self.total:,} {self.unit}"
            f"  {elapsed:.1f} s, {eta:.0f} s left "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.enabled = False


def frontier_chunks(
    budgets: FloatArray, chunk_size: int, solve: Callable[[FloatArray], _T]
) -> list[_T]:
    """A frontier solved chunk by chunk as the server streams it
    (:func:`scaleplan.sweep.budget_chunks`: a bad budget named by its index), with a progress
    bar on a terminal; the chunks' results in order."""
    thunks = budget_chunks(budgets, chunk_size, lambda part, start, total: (solve(part), len(part)))
    out = []
    with Progress(len(budgets), "budgets") as bar:
        for thunk in thunks:
            result, n = thunk()
            out.append(result)
            bar.advance(n)
    return out
