"""Exceptions raised by scaleplan.

Every exception derives from :class:`ScaleplanError` and carries its context as attributes, never
inside its text (docs/limits.md, "Errors"):

- ``field``: the input (argument) the error is about, e.g. ``gen_tokens`` or ``rows.n``;
- ``reason``: what is wrong with it, e.g. ``must be > 0, got 0``;
- ``index``: the element of a broadcast batch (0-based), or None;
- ``row`` and ``file``: the row (1-based, the header not counted) of an input file, or None.

``message`` is ``"<field>: <reason>"``; ``str(exc)`` adds the location. Each surface builds its
own text from these: the CLI names the option and the file row, gRPC puts the field path in a
``BadRequest`` and the rest in ``ErrorInfo`` metadata. Invalid arguments are also
``ValueError`` so generic callers can catch them. The Rust core maps each of its error kinds to
exactly one class here (rust/python/src/errors.rs).
"""

from __future__ import annotations

from typing import Any, Self


class ScaleplanError(Exception):
    """Base class of every scaleplan error."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        index: int | None = None,
        row: int | None = None,
        file: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        # The message is "<field>: <reason>" (the convention of every message of the core and
        # the façade), kept as its two parts so that a surface can name the field its own way.
        # The core passes its reason as data; a message raised in Python is split at its field.
        prefix = f"{field}: "
        if reason is not None:
            self._named = True
        else:
            self._named = bool(field) and message.startswith(prefix)
            reason = message[len(prefix) :] if self._named else message
        self.reason = reason
        self.field = field
        self.index = index
        self.row = row
        self.file = file

    @property
    def message(self) -> str:
        """``"<field>: <reason>"``, without the location."""
        return f"{self.field}: {self.reason}" if self._named else self.reason

    @property
    def location(self) -> str:
        """Where the error is, in words: ``evals.csv row 7``, ``element 3``, or ""."""
        parts = []
        if self.file is not None and self.row is not None:
            parts.append(f"{self.file} row {self.row}")
        elif self.file is not None:
            parts.append(self.file)
        elif self.row is not None:
            parts.append(f"row {self.row}")
        if self.index is not None:
            parts.append(f"element {self.index}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location
        return f"{where}: {self.message}" if where else self.message

    def replace(self, **changes: Any) -> Self:
        """A copy with some attributes changed (``field``, ``index``, ``row``, ``file``, ...):
        how a caller that knows more about where the input came from reports it, raising the
        copy ``from`` the original rather than editing an exception already raised."""
        unknown = set(changes) - set(vars(self)) - {"message"}
        if unknown:
            raise TypeError(f"replace: unknown attributes {sorted(unknown)}")
        copy = type(self).__new__(type(self))
        copy.__dict__.update(vars(self))
        copy.__dict__.update(changes)
        copy.args = (copy.message,)
        return copy

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: rebuild from the attributes (pickling, copy).
        return (_rebuild, (type(self), vars(self).copy()))


def _rebuild(cls: type[ScaleplanError], state: dict[str, Any]) -> ScaleplanError:
    exc = cls.__new__(cls)
    exc.__dict__.update(state)
    exc.args = (exc.message,)
    return exc


class InvalidArgumentError(ScaleplanError, ValueError):
    """An argument is outside its domain (NaN, infinite, non-positive, wrong kind, ...)."""


class UnknownNameError(InvalidArgumentError, LookupError):
    """A catalog name (model, hardware, family) is not known. ``preset`` names the accuracy
    preset that referenced it, when it was one of a preset's models."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        kind: str,
        name: str,
        known: list[str],
        preset: str | None = None,
        index: int | None = None,
        row: int | None = None,
        file: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, field=field, index=index, row=row, file=file, reason=reason)
        self.kind = kind
        self.name = name
        self.known = known
        self.preset = preset


class LimitExceededError(InvalidArgumentError):
    """A request is larger than an enforced limit (samples per query, sweep length, runs of a
    fit, ...): ``got`` against ``limit`` (docs/limits.md)."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        limit: int,
        got: int,
        index: int | None = None,
        row: int | None = None,
        file: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, field=field, index=index, row=row, file=file, reason=reason)
        self.limit = limit
        self.got = got


class CatalogError(ScaleplanError, ValueError):
    """A catalog file cannot be read or is malformed: ``file``, and ``entry`` and ``field``
    where the error is about one entry (``entry`` None and ``field`` "" for the whole file)."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        file: str,
        entry: str | None = None,
        index: int | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message, field=field, index=index, row=row, file=file)
        self.entry = entry

    @property
    def location(self) -> str:
        # The message already starts "catalog <file>: ...".
        return ""


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
