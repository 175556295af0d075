"""The one table from :mod:`scaleplan.errors` to gRPC status codes, and the rich status sent.

A caller's mistake gets its own code and a ``google.rpc.BadRequest`` naming the request field
(``grid.gen_tokens[3]`` for an element of a repeated field) with the error's reason as its
description, plus a ``google.rpc.ErrorInfo`` (domain ``scaleplan``) whose metadata carries the
Python argument name and the error's data (``index``, ``row``, ``file``, ``limit``/``got``,
``kind``/``name``/``known``/``preset``), so :class:`scaleplan.Client` raises the exception the
Python API raises, with the same attributes. The status message is built from the same data:
``<request field path>: <reason>``. Nothing is parsed out of a message (docs/limits.md,
"Errors"). Anything else
is INTERNAL with a generic message; its traceback is logged under a reference quoted in the
message, and nothing of it reaches the caller.

Replies stay small: text that echoes the request (a name, a message quoting a value) goes
through :func:`scaleplan._format.clip`, so the status fits gRPC's metadata limit whatever the
caller sent (a 5,000-character model name once made NOT_FOUND arrive as the client's own
RESOURCE_EXHAUSTED: its trailers passed the 16 KiB hard limit). See docs/server.md, "Limits and
admission".

Why a limit is INVALID_ARGUMENT and not RESOURCE_EXHAUSTED: the limit (sweep length) is fixed
configuration, so the same request fails the same way every time; RESOURCE_EXHAUSTED means
"retry later" (quota, load) and retry policies and proxies treat it as retryable.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

import grpc
import grpc.aio
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from scaleplan._format import MAX_ECHO_CHARS, clip
from scaleplan.errors import (
    CatalogError,
    InvalidArgumentError,
    LimitExceededError,
    ScaleplanError,
    UnknownNameError,
)

log = logging.getLogger("scaleplan.grpc.server")

DOMAIN = "scaleplan"

MAX_TEXT_CHARS = 1024
"""Longest message, description or metadata value."""
MAX_FIELD_CHARS = 256
"""Longest field path or argument name. With these bounds a status (its details sent
base64-encoded) stays under ~5 KB, within gRPC's 8 KiB default soft limit on metadata."""


def _clipped(exc: ScaleplanError, message: str) -> str:
    """A message about ``exc`` with an echoed name cut short, and then the whole bounded."""
    if isinstance(exc, UnknownNameError) and len(exc.name) > MAX_ECHO_CHARS:
        message = message.replace(exc.name, clip(exc.name))
    return clip(message, MAX_TEXT_CHARS)


@dataclass(frozen=True)
class ErrorMapping:
    exception: type[ScaleplanError]
    code: grpc.StatusCode
    reason: str
    """ErrorInfo.reason and BadRequest.FieldViolation.reason."""
    public: bool
    """Whether the message and details go to the caller (False: INTERNAL, generic, logged)."""


# Most specific class first: the first entry the exception is an instance of applies.
TABLE: tuple[ErrorMapping, ...] = (
    ErrorMapping(LimitExceededError, grpc.StatusCode.INVALID_ARGUMENT, "LIMIT_EXCEEDED", True),
    ErrorMapping(UnknownNameError, grpc.StatusCode.NOT_FOUND, "UNKNOWN_NAME", True),
    # A bad catalog file is the operator's problem, and its message names server paths.
    ErrorMapping(CatalogError, grpc.StatusCode.INTERNAL, "CATALOG_ERROR", False),
    ErrorMapping(InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", True),
)


def mapping_for(exc: BaseException) -> ErrorMapping | None:
    for entry in TABLE:
        if isinstance(exc, entry.exception):
            return entry
    return None


def field_path(field: str, index: int | None, paths: Mapping[str, str]) -> str:
    """The request field path of a Python argument name (and element index). An argument that
    names an element or a sub-field (``rows[3].c``) is looked up by its head (``rows``); the
    index of a sub-field (``rows.c``, 3) goes after the head (``rows[3].c``). A path with
    ``[]`` (``runs[].params``) takes the index there, and is its head (``runs``) without one."""
    path = paths.get(field)
    if path is not None and "[]" in path:
        head, rest = path.split("[]", 1)
        return head if index is None else f"{head}[{index}]{rest}"
    if path is None:
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        rest = field[len(head) :]
        if index is not None and rest.startswith("."):
            # A sub-field of an element ("rows.n", 3): the index belongs to the element.
            return f"{paths.get(head, head)}[{index}]{rest}"
        path = paths[head] + rest if head in paths else field
    return path if index is None else f"{path}[{index}]"


def _metadata(exc: ScaleplanError) -> dict[str, str]:
    data = {"argument": clip(exc.field, MAX_FIELD_CHARS)}
    for key in ("index", "row", "file"):
        value = getattr(exc, key)
        if value is not None:
            data[key] = str(value)
    if isinstance(exc, UnknownNameError):
        data.update(kind=exc.kind, name=clip(exc.name), known=",".join(exc.known))
        if exc.preset is not None:
            data["preset"] = clip(exc.preset)
    if isinstance(exc, LimitExceededError):
        data.update(limit=str(exc.limit), got=str(exc.got))
    return {key: clip(value, MAX_TEXT_CHARS) for key, value in data.items()}


def _pack(message: error_details_pb2.BadRequest | error_details_pb2.ErrorInfo) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def status_for(exc: BaseException, paths: Mapping[str, str]) -> grpc.Status:
    """The status an exception raised while serving a call becomes."""
    entry = mapping_for(exc)
    if entry is None or not entry.public or not isinstance(exc, ScaleplanError):
        reference = uuid.uuid4().hex[:12]
        log.error("internal error, reference %s", reference, exc_info=exc)
        return rpc_status.to_status(
            status_pb2.Status(
                code=code_pb2.INTERNAL, message=f"internal error (reference {reference})"
            )
        )
    path = clip(field_path(exc.field, exc.index, paths), MAX_FIELD_CHARS)
    violation = error_details_pb2.BadRequest.FieldViolation(
        field=path, description=_clipped(exc, exc.reason), reason=entry.reason
    )
    info = error_details_pb2.ErrorInfo(reason=entry.reason, domain=DOMAIN, metadata=_metadata(exc))
    where = f"{exc.file} row {exc.row}, " if exc.file is not None and exc.row is not None else ""
    status = status_pb2.Status(
        code=entry.code.value[0],
        message=_clipped(exc, f"{where}{path}: {exc.reason}" if exc.field else str(exc)),
        details=[_pack(error_details_pb2.BadRequest(field_violations=[violation])), _pack(info)],
    )
    return rpc_status.to_status(status)


async def abort(
    context: grpc.aio.ServicerContext[object, object],
    exc: BaseException,
    paths: Mapping[str, str],
) -> NoReturn:
    """End the call with the status of ``exc`` (raises, as ``context.abort`` does)."""
    await context.abort_with_status(status_for(exc, paths))
    raise AssertionError("unreachable: abort_with_status raises")
