"""The server's interceptor: the access log and metrics of every call, and the bearer token check.

One interceptor does both, because grpc.aio runs every interceptor as coroutine layers around
every call. It wraps the method handler gRPC resolved, keeping its kind (unary or streaming) and
serializers, so it works for every service on the server (health and reflection included); a
call refused for its token is logged and counted too. The wrapped handlers are built once per
method, not per call.
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

from scaleplan.server.metrics import Metrics

ACCESS_LOG = logging.getLogger("scaleplan.access")

if TYPE_CHECKING:  # grpc's classes are generic in its stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]
    Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]
Behavior = Callable[..., Any]

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


def _rebuild(handler: Handler, kind: str, behavior: Behavior) -> Handler:
    return _FACTORIES[kind](
        behavior,
        request_deserializer=handler.request_deserializer,
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
    ``scaleplan.access`` logger per call (method, status code, duration, peer)."""

    __slots__ = ("method", "metrics", "quoted")

    def __init__(self, method: str, metrics: Metrics) -> None:
        self.method = method
        self.metrics = metrics
        self.quoted = json.dumps(method)

    def finish(
        self, context: grpc.aio.ServicerContext[Any, Any], start: float, exc: BaseException | None
    ) -> None:
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            remaining = context.time_remaining()
            expired = remaining is not None and remaining <= 0
            code = "DEADLINE_EXCEEDED" if expired else "CANCELLED"
        elif exc is None or isinstance(exc, grpc.aio.AbortError):
            code = _code_name(context.code()) or ("OK" if exc is None else "UNKNOWN")
        else:
            code = "UNKNOWN"  # what gRPC makes of an exception a handler let through
        seconds = time.perf_counter() - start
        self.metrics.finished(self.method, code, seconds)
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            # Written out rather than json.dumps of a dict, and handed to the logger as a
            # record rather than through .info (which walks the stack for the caller): the
            # access log was the largest per-call cost of the server's own code (~50 us a call
            # under load, now ~25).
            line = (
                f'{{"ts": "{_timestamp()}", "method": {self.quoted}, "code": "{code}", '
                f'"duration_ms": {round(seconds * 1e3, 3)}, "peer": {json.dumps(context.peer())}}}'
            )
            ACCESS_LOG.handle(
                ACCESS_LOG.makeRecord(ACCESS_LOG.name, logging.INFO, __file__, 0, line, (), None)
            )

    def wrap(self, handler: Handler, behavior: Behavior) -> Handler:
        """``handler`` with ``behavior`` (its own, or a refusal) observed."""
        kind, _ = _kind(handler)
        metrics, method, finish = self.metrics, self.method, self.finish
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                start = time.perf_counter()
                metrics.started(method)
                try:
                    async for message in behavior(request, context):
                        yield message
                except BaseException as exc:
                    finish(context, start, exc)
                    raise
                finish(context, start, None)

            return _rebuild(handler, kind, stream)
        if inspect.iscoroutinefunction(behavior):

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                start = time.perf_counter()
                metrics.started(method)
                try:
                    response = await behavior(request, context)
                except BaseException as exc:
                    finish(context, start, exc)
                    raise
                finish(context, start, None)
                return response

            return _rebuild(handler, kind, unary)
        return handler  # a synchronous behavior (none on this server) is left as it is


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        "missing or invalid bearer token (metadata 'authorization: Bearer <token>')",
        (("www-authenticate", "Bearer"),),
    )


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Observes every call (see :class:`_Method`) and, given a ``token``, requires
    ``authorization: Bearer <token>`` on every call except the health service's (load
    balancers and orchestrators probe it without credentials); others get UNAUTHENTICATED."""

    EXEMPT = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})

    def __init__(self, metrics: Metrics, token: str | None = None) -> None:
        if token is not None and not token:
            raise ValueError("empty token")
        self._metrics = metrics
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
            observe = _Method(method, self._metrics)
            _, behavior = _kind(handler)
            entry = (handler, observe.wrap(handler, behavior), observe.wrap(handler, _deny))
            self._handlers[method] = entry
        if (
            self._expected is None
            or method in self.EXEMPT
            or self.authorized(handler_call_details.invocation_metadata)
        ):
            return entry[1]
        return entry[2]
