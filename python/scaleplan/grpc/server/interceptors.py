"""The server's interceptor: the access log and metrics of every call, admission control, and
the bearer token check (docs/server.md).

One interceptor does all three, because grpc.aio runs every interceptor as coroutine layers
around every call. It wraps the method handler gRPC resolved, keeping its serializers, so it
works for every service on the server (health and reflection included); a unary-request method
is served as request-streaming, so that the wrapper reads the request itself (see
:class:`_Method`). A call refused for its token, for load, or for its bytes is logged and counted
too. The wrapped handlers are built once per method, not per call.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from scaleplan.grpc.server.metrics import Metrics

ACCESS_LOG = logging.getLogger("scaleplan.access")

if TYPE_CHECKING:  # grpc's classes are generic in its stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]
    Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]
Behavior = Callable[..., Any]
Parser = Callable[[bytes], Any]

_FACTORIES: dict[str, Callable[..., Handler]] = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def _kind(handler: Handler) -> tuple[str, Behavior]:
    for kind in _FACTORIES:
        behavior = getattr(handler, kind)
        if behavior is not None:
            return kind, behavior
    raise ValueError("method handler without a behavior")


def _rebuild(
    handler: Handler, kind: str, behavior: Behavior, deserializer: Parser | None
) -> Handler:
    """A handler of ``kind`` (which may differ from the handler's own: see :class:`_Method`)."""
    return _FACTORIES[kind](
        behavior,
        request_deserializer=deserializer,
        response_serializer=handler.response_serializer,
    )


def _code_name(code: object) -> str | None:
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        for member in grpc.StatusCode:
            if member.value[0] == code:
                return member.name
    return None


@functools.lru_cache(maxsize=2)
def _utc_second(epoch_second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_second))


def _timestamp() -> str:
    """Now as ``datetime.now(UTC).isoformat(timespec="milliseconds")`` writes it, with the date
    and time formatted once a second rather than once a call."""
    now = time.time()
    second = int(now)
    return f"{_utc_second(second)}.{int((now - second) * 1000):03d}+00:00"


class _Method:
    """Observation of one method's calls: one metrics sample and one JSON line on the
    ``scaleplan.access`` logger per call (method, status code, duration, peer).

    Everything the line needs from the call (its peer, its deadline) is read when the call
    starts, while gRPC's call object is alive: after a call ended by its deadline or a cancel,
    ``context.peer()`` read freed memory and crashed the server with SIGSEGV (issue 11; see
    docs/server.md, "Access log and metrics").

    A unary-request method is served as a request-streaming one, so that the wrapper runs as
    soon as the call arrives and reads the one request message itself (see :meth:`receive`):
    a call refused for load is refused before its message is read; a message larger than the
    limit, which gRPC refuses before any handler, and bytes that do not parse, are seen,
    answered and logged here like any other call (docs/server.md, "Limits and admission")."""

    __slots__ = ("admission", "max_message_bytes", "method", "metrics", "quoted")

    def __init__(
        self,
        method: str,
        metrics: Metrics,
        admission: Admission | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self.method = method
        self.metrics = metrics
        self.admission = admission
        self.max_message_bytes = max_message_bytes
        self.quoted = json.dumps(method)

    def finish(
        self, context: grpc.aio.ServicerContext[Any, Any], call: _Call, exc: BaseException | None
    ) -> None:
        # gRPC cancels the handler both when the deadline passes and when the client cancels;
        # the deadline read at the start tells which (a few ms of slack: gRPC's timer and this
        # clock start a moment apart). Past it, the client has DEADLINE_EXCEEDED whatever the
        # handler did.
        expired = call.deadline is not None and time.monotonic() >= call.deadline - 0.005
        if call.code is not None:
            code = call.code
        elif isinstance(exc, asyncio.CancelledError | GeneratorExit):
            code = "DEADLINE_EXCEEDED" if expired else "CANCELLED"
        elif exc is None or isinstance(exc, grpc.aio.AbortError):
            # Still inside the handler, so the call is alive; code() reads the status set by
            # abort (or by nobody: OK).
            code = _code_name(context.code()) or ("OK" if exc is None else "UNKNOWN")
        else:
            # What gRPC makes of an exception a handler let through.
            code = "DEADLINE_EXCEEDED" if expired else "UNKNOWN"
        if call.admitted and self.admission is not None:
            self.admission.leave(call.size)
        seconds = time.perf_counter() - call.start
        self.metrics.finished(self.method, code, seconds)
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            # Written out rather than json.dumps of a dict, and handed to the logger as a
            # record rather than through .info (which walks the stack for the caller): the
            # access log was the largest per-call cost of the server's own code (~50 us a call
            # under load, now ~25).
            line = (
                f'{{"ts": "{_timestamp()}", "method": {self.quoted}, "code": "{code}", '
                f'"duration_ms": {round(seconds * 1e3, 3)}, "peer": {json.dumps(call.peer)}}}'
            )
            ACCESS_LOG.handle(
                ACCESS_LOG.makeRecord(ACCESS_LOG.name, logging.INFO, __file__, 0, line, (), None)
            )

    async def receive(
        self, context: grpc.aio.ServicerContext[Any, Any], call: _Call, parse: Parser
    ) -> Any:
        """Admit the call, read its one request message and parse it; a refusal aborts the
        call (raising grpc.aio.AbortError, as ``context.abort`` does)."""
        admission = self.admission
        if admission is not None:
            if (refusal := admission.enter()) is not None:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
            call.admitted = True
        raw = await context.read()
        if not isinstance(raw, bytes):  # EOF: gRPC refused the message (or none was sent)
            # gRPC has sent its status already (the abort below only raises): say which.
            call.code = "RESOURCE_EXHAUSTED"
            limit = self.max_message_bytes
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "request: no message received"
                + ("" if limit is None else f" (the limit is {limit} bytes, --max-message-bytes)"),
            )
        if admission is not None:
            if (refusal := admission.add(len(raw))) is not None:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
            call.size = len(raw)
        try:
            return parse(raw)
        except Exception:
            name = self.method.rsplit("/", 1)[-1]
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request: {len(raw)} bytes that are not a valid {name} request message",
            )

    def wrap(self, handler: Handler, behavior: Behavior, *, read: bool = True) -> Handler:
        """``handler`` with ``behavior`` (its own, or a refusal) observed. A unary-request
        method becomes request-streaming, its wrapper reading the message (unless not ``read``:
        a refusal has no use for it)."""
        kind, _ = _kind(handler)
        finish, receive = self.finish, self.receive
        if kind.startswith("unary_"):
            parse: Parser = handler.request_deserializer or _raw
            served_as, deserializer = kind.replace("unary_", "stream_", 1), None
        else:
            parse, served_as, deserializer = _raw, kind, handler.request_deserializer
            read = False  # the behavior reads the request stream itself
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                call = _Call(context)
                self.metrics.started(self.method)
                try:
                    if read:
                        request = await receive(context, call, parse)
                    async for message in behavior(request, context):
                        yield message
                except BaseException as exc:
                    finish(context, call, exc)
                    raise
                finish(context, call, None)

            return _rebuild(handler, served_as, stream, deserializer)
        if inspect.iscoroutinefunction(behavior):

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                call = _Call(context)
                self.metrics.started(self.method)
                try:
                    if read:
                        request = await receive(context, call, parse)
                    response = await behavior(request, context)
                except BaseException as exc:
                    finish(context, call, exc)
                    raise
                finish(context, call, None)
                return response

            return _rebuild(handler, served_as, unary, deserializer)
        return handler  # a synchronous behavior (none on this server) is left as it is


class _Call:
    """What the access log and admission keep of one call, read while it is alive."""

    __slots__ = ("admitted", "code", "deadline", "peer", "size", "start")

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self.start = time.perf_counter()
        self.peer = context.peer()
        remaining = context.time_remaining()
        self.deadline = None if remaining is None else time.monotonic() + remaining
        self.size = 0
        self.admitted = False
        self.code: str | None = None
        """The status when the call's own status code cannot tell it."""


def _raw(data: bytes) -> bytes:
    return data


class Admission:
    """Admission control of PlannerService calls (docs/server.md, "Limits and admission"): at
    most ``max_calls`` served at once, whose requests hold at most ``max_request_bytes`` in
    all. A call is admitted before its request is read while fewer than ``max_calls`` are
    served and the requests leave room for a message of ``max_message_bytes``; once read, a
    request that would pass the bytes bound is refused (a lone call is always admitted).
    Each call has at most one job in the worker pool at a time, so the work queued for the
    pool is at most ``max_calls`` jobs. A refusal is RESOURCE_EXHAUSTED (retryable: it is about
    load, not about the request), at once, naming the bound. Used from the event loop only: no
    lock."""

    def __init__(self, max_calls: int, max_request_bytes: int, max_message_bytes: int) -> None:
        if min(max_calls, max_request_bytes, max_message_bytes) < 1:
            raise ValueError("admission limits must be positive")
        self.max_calls = max_calls
        self.max_request_bytes = max_request_bytes
        self.max_message_bytes = max_message_bytes
        self.calls = 0
        self.request_bytes = 0

    def enter(self) -> str | None:
        """Admit a call whose request is not read yet, or say why not."""
        if self.calls >= self.max_calls:
            return (
                f"server busy: {self.calls} calls in progress, the limit is {self.max_calls} "
                "(--max-calls); retry later"
            )
        # Refused before its request is read (so gRPC drops it unread) when the requests in
        # progress leave no room for a largest message. Calls being read reserve nothing: a
        # burst of small calls must not look like a full server.
        if self.calls and self.request_bytes + self.max_message_bytes > self.max_request_bytes:
            return self._full(0)
        self.calls += 1
        return None

    def add(self, size: int) -> str | None:
        """Count the request (``size`` bytes) of an admitted call, or say why not (the call
        stays counted, with 0 bytes, until it leaves)."""
        if self.request_bytes and self.request_bytes + size > self.max_request_bytes:
            return self._full(size)
        self.request_bytes += size
        return None

    def leave(self, size: int) -> None:
        """An admitted call ended; ``size``: what :meth:`add` counted of it."""
        self.calls -= 1
        self.request_bytes -= size

    def _full(self, size: int) -> str:
        more = size or self.max_message_bytes
        could = "would" if size else "could (--max-message-bytes)"
        return (
            f"server busy: the requests in progress hold {self.request_bytes} bytes, and "
            f"{more} more {could} pass the limit of {self.max_request_bytes} "
            "(--max-request-bytes-in-flight); retry later"
        )


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        "missing or invalid bearer token (metadata 'authorization: Bearer <token>')",
        (("www-authenticate", "Bearer"),),
    )


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Observes every call (see :class:`_Method`), admits the planner's calls through
    ``admission`` (see :class:`Admission`) and, given a ``token``, requires
    ``authorization: Bearer <token>`` on every call except the health service's (load
    balancers and orchestrators probe it without credentials); others get UNAUTHENTICATED."""

    EXEMPT = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
    ADMITTED = "/scaleplan.v1.PlannerService/"

    def __init__(
        self,
        metrics: Metrics,
        token: str | None = None,
        admission: Admission | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        if token is not None and not token:
            raise ValueError("empty token")
        self._metrics = metrics
        self._admission = admission
        self._max_message_bytes = max_message_bytes
        self._expected = None if token is None else f"bearer {token}".encode()
        # method -> (the handler gRPC resolved, it observed, it refused and observed)
        self._handlers: dict[str, tuple[Handler, Handler, Handler]] = {}

    def authorized(self, metadata: Any) -> bool:
        for key, value in metadata or ():
            if key == "authorization":
                got = value.encode() if isinstance(value, str) else bytes(value)
                # The scheme is case-insensitive (RFC 7235); the token is compared in
                # constant time.
                got = got[:7].lower() + got[7:]
                return hmac.compare_digest(got, self._expected or b"")
        return False

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        entry = self._handlers.get(method)
        if entry is None or entry[0] is not handler:
            # Admission control applies to the planner's calls, never to health checks.
            admitted = method.startswith(self.ADMITTED)
            admission = self._admission if admitted else None
            observe = _Method(method, self._metrics, admission, self._max_message_bytes)
            _, behavior = _kind(handler)
            entry = (
                handler,
                observe.wrap(handler, behavior),
                _Method(method, self._metrics).wrap(handler, _deny, read=False),
            )
            self._handlers[method] = entry
        if (
            self._expected is None
            or method in self.EXEMPT
            or self.authorized(handler_call_details.invocation_metadata)
        ):
            return entry[1]
        return entry[2]
