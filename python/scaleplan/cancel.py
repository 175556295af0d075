"""Cancelling planning calls (docs/limits.md).

Every planner (``plan_*``, ``frontier_*``) takes ``cancel=``, a :class:`CancelToken`; calling
``token.cancel()`` from another thread, or its ``timeout_s`` passing, stops the call within
~0.1 s with :class:`scaleplan.errors.Cancelled`. The Rust core checks the token at the heads of
its loops. Without ``cancel=`` a planner uses the token made current on its thread by
:func:`scope` (the gRPC server gives each call one, fired by the call's deadline and the
client's cancel), and on the main thread Ctrl-C stops it the same way (KeyboardInterrupt).

The limits on client-chosen numbers are constants here too: :data:`MAX_SAMPLES` (``k_max``),
:data:`MAX_MAJORITY_SAMPLES`, :data:`MEASURED_TABLE_SAMPLES` and :data:`MAX_SEARCH_STEPS`.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

from scaleplan._core import (
    MAX_MAJORITY_SAMPLES,
    MAX_SAMPLES,
    MAX_SEARCH_STEPS,
    MEASURED_TABLE_SAMPLES,
    CancelToken,
)
from scaleplan.errors import InvalidArgumentError, LimitExceededError

_local = threading.local()


@contextlib.contextmanager
def scope(token: CancelToken | None) -> Iterator[CancelToken | None]:
    """Make ``token`` the default ``cancel=`` of planners called on this thread inside."""
    previous = getattr(_local, "token", None)
    _local.token = token
    try:
        yield token
    finally:
        _local.token = previous


def current() -> CancelToken | None:
    """The token made current on this thread by :func:`scope`, if any."""
    token: CancelToken | None = getattr(_local, "token", None)
    return token


def resolve(cancel: object) -> CancelToken | None:
    """``cancel=`` as given (checked), else the thread's current token."""
    if cancel is None:
        return current()
    if not isinstance(cancel, CancelToken):
        raise InvalidArgumentError(
            f"cancel: expected a scaleplan.CancelToken, got {type(cancel).__name__}",
            field="cancel",
        )
    return cancel


def samples(name: str, value: object) -> int:
    """A sample count such as ``k_max``: a whole number in [1, MAX_SAMPLES]."""
    if isinstance(value, bool) or (
        not isinstance(value, int | float) and not hasattr(value, "__index__")
    ):
        raise InvalidArgumentError(f"{name}: expected a whole number, got {value!r}", field=name)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgumentError(
            f"{name}: expected a whole number, got {value!r}", field=name
        ) from None
    if not number.is_integer() and number == number:
        raise InvalidArgumentError(f"{name}: must be a whole number, got {value!r}", field=name)
    if MAX_SAMPLES < number < math.inf:
        # The core's limit, raised as the core raises it (rust/core/src/limits.rs).
        got = int(number)
        raise LimitExceededError(
            f"{name}: {got} exceeds the limit of {MAX_SAMPLES}",
            field=name,
            limit=MAX_SAMPLES,
            got=got,
        )
    if not 1 <= number <= MAX_SAMPLES:  # also refuses NaN and infinities
        raise InvalidArgumentError(
            f"{name}: must be >= 1 and <= {MAX_SAMPLES}, got {value!r}", field=name
        )
    return int(number)


__all__ = [
    "MAX_MAJORITY_SAMPLES",
    "MAX_SAMPLES",
    "MAX_SEARCH_STEPS",
    "MEASURED_TABLE_SAMPLES",
    "CancelToken",
    "current",
    "resolve",
    "samples",
    "scope",
]
