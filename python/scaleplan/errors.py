"""Exceptions raised by scaleplan.

Every exception derives from :class:`ScaleplanError` and names the input field it is about in
``.field``. Invalid arguments are also ``ValueError`` so generic callers can catch them.
The Rust core maps each of its error kinds to exactly one class here (rust/python/src/errors.rs).
"""

from __future__ import annotations


class ScaleplanError(Exception):
    """Base class of every scaleplan error."""

    def __init__(self, message: str, *, field: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.index = index


class InvalidArgumentError(ScaleplanError, ValueError):
    """An argument is outside its domain (NaN, infinite, non-positive, wrong kind, ...)."""


class UnknownNameError(InvalidArgumentError, LookupError):
    """A catalog name (model, hardware, family) is not known."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        kind: str,
        name: str,
        known: list[str],
        index: int | None = None,
    ) -> None:
        super().__init__(message, field=field, index=index)
        self.kind = kind
        self.name = name
        self.known = known


class LimitExceededError(InvalidArgumentError):
    """A request is larger than an enforced limit (sweep length, grid size)."""

    def __init__(
        self, message: str, *, field: str, limit: int, got: int, index: int | None = None
    ) -> None:
        super().__init__(message, field=field, index=index)
        self.limit = limit
        self.got = got


class CatalogError(ScaleplanError, ValueError):
    """A catalog file or entry is malformed; names the file, the entry and the field."""

    def __init__(
        self, message: str, *, field: str, file: str, entry: str, index: int | None = None
    ) -> None:
        super().__init__(message, field=field, index=index)
        self.file = file
        self.entry = entry


class Cancelled(ScaleplanError):
    """A planning call was stopped by its cancellation token (``cancel=``), its deadline, or
    Ctrl-C before it finished (docs/limits.md). ``deadline`` says whether the token's timeout
    fired rather than ``cancel()``. Not a ``ValueError``: the input was fine."""

    def __init__(self, message: str, *, field: str = "cancel", deadline: bool = False) -> None:
        super().__init__(message, field=field)
        self.deadline = deadline


__all__ = [
    "Cancelled",
    "CatalogError",
    "InvalidArgumentError",
    "LimitExceededError",
    "ScaleplanError",
    "UnknownNameError",
]
