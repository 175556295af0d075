"""Server interceptors: the access log and metrics of every call, and the bearer token check.

``ObserveInterceptor`` goes first (outermost), so calls refused by ``TokenInterceptor`` are logged
and counted too. Both wrap the method handler gRPC resolved, keeping its kind (unary or
streaming) and serializers, so they work for every service on the server (health and reflection
included).
"""

from __future__ import annotations

import asyncio
import datetime
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


class _Call:
    """One call being observed: started on creation, recorded once by ``finish``."""

    __slots__ = ("context", "method", "metrics", "start")

    def __init__(self, method: str, context: grpc.aio.ServicerContext[Any, Any], metrics: Metrics):
        self.method = method
        self.context = context
        self.metrics = metrics
        self.start = time.perf_counter()
        metrics.started(method)

    def finish(self, exc: BaseException | None) -> None:
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            remaining = self.context.time_remaining()
            expired = remaining is not None and remaining <= 0
            code = "DEADLINE_EXCEEDED" if expired else "CANCELLED"
        elif exc is None or isinstance(exc, grpc.aio.AbortError):
            code = _code_name(self.context.code()) or ("OK" if exc is None else "UNKNOWN")
        else:
            code = "UNKNOWN"  # what gRPC makes of an exception a handler let through
        seconds = time.perf_counter() - self.start
        self.metrics.finished(self.method, code, seconds)
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            ACCESS_LOG.info(
                json.dumps(
                    {
                        "ts": datetime.datetime.now(datetime.UTC).isoformat(
                            timespec="milliseconds"
                        ),
                        "method": self.method,
                        "code": code,
                        "duration_ms": round(seconds * 1e3, 3),
                        "peer": self.context.peer(),
                    }
                )
            )


class ObserveInterceptor(grpc.aio.ServerInterceptor):
    """One JSON line on the ``scaleplan.access`` logger and one metrics sample per call:
    method, status code, duration and peer."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method, metrics = handler_call_details.method, self._metrics
        kind, behavior = _kind(handler)
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                call = _Call(method, context, metrics)
                try:
                    async for message in behavior(request, context):
                        yield message
                except BaseException as exc:
                    call.finish(exc)
                    raise
                call.finish(None)

            return _rebuild(handler, kind, stream)
        if inspect.iscoroutinefunction(behavior):

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                call = _Call(method, context, metrics)
                try:
                    response = await behavior(request, context)
                except BaseException as exc:
                    call.finish(exc)
                    raise
                call.finish(None)
                return response

            return _rebuild(handler, kind, unary)
        return handler  # a synchronous behavior (none on this server) is left as it is


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Every call must carry ``authorization: Bearer <token>``, except the health service (load
    balancers and orchestrators probe it without credentials); others get UNAUTHENTICATED."""

    EXEMPT = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("empty token")
        self._expected = f"bearer {token}".encode()

    def authorized(self, metadata: Any) -> bool:
        for key, value in metadata or ():
            if key == "authorization":
                got = value.encode() if isinstance(value, str) else bytes(value)
                # The scheme is case-insensitive (RFC 7235); the token is compared in
                # constant time.
                got = got[:7].lower() + got[7:]
                return hmac.compare_digest(got, self._expected)
        return False

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method in self.EXEMPT:
            return handler
        if self.authorized(handler_call_details.invocation_metadata):
            return handler

        async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or invalid bearer token (metadata 'authorization: Bearer <token>')",
                (("www-authenticate", "Bearer"),),
            )

        kind, _ = _kind(handler)
        return _rebuild(handler, kind, deny)
