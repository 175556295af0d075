"""``scaleplan.v1.PlannerService``: one handler per RPC, each a plain function of its request.

Adding an RPC (a planner, once its Python API exists) takes its ``<Rpc>Request``/``<Rpc>Response``
pair in ``proto/scaleplan/v1/planner.proto``, ``make proto``, a request -> keyword-arguments and a
result -> message function in ``scaleplan/_wire.py``, and one method here::

    @unary(paths={"python_argument": "request.field.path"})
    def SomePlan(self, request: pb.SomePlanRequest) -> pb.SomePlanResponse:
        plan = scaleplan.some_plan(**_wire.some_plan_kwargs(request), catalog=self.catalog)
        return pb.SomePlanResponse(plan=_wire.plan_message(plan))

``@unary`` runs the function in the worker pool, off the event loop (the Rust core releases the
GIL), and turns any exception into a status through ``errors.TABLE``, naming the request field
by ``paths``. A server-streaming RPC uses ``@server_stream``: its function checks the request and
returns an iterator of thunks, each computing one response message in the pool; a cancelled or
expired call stops between two of them.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import grpc.aio
import numpy as np
import numpy.typing as npt
from google.protobuf.message import Message

from scaleplan import _wire
from scaleplan.catalog import Catalog
from scaleplan.cost import inference_cost, training_cost
from scaleplan.errors import InvalidArgumentError, LimitExceededError, ScaleplanError
from scaleplan.server import errors
from scaleplan.server.metrics import Metrics
from scaleplan.v1 import planner_pb2 as pb
from scaleplan.v1 import planner_pb2_grpc

SERVICE = "scaleplan.v1.PlannerService"

if TYPE_CHECKING:  # generic in grpc's stubs only
    Context = grpc.aio.ServicerContext[Any, Any]
_Req = TypeVar("_Req", bound=Message)
_Resp = TypeVar("_Resp", bound=Message)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Limits:
    """Server limits on the work one request may ask for."""

    max_sweep_points: int = 1_000_000
    """Points in one InferenceCostSweep grid; more is INVALID_ARGUMENT (LIMIT_EXCEEDED)."""
    chunk_points: int = 4096
    """Points per streamed message when the request leaves chunk_points at 0."""
    max_chunk_points: int = 8192
    """Largest chunk (~160 bytes a point: 8192 points is about 1.3 MB, under the 4 MiB
    default message limit of gRPC clients)."""

    @classmethod
    def for_message_size(cls, max_sweep_points: int, max_message_bytes: int) -> Limits:
        """Limits whose largest chunk fits in a message of ``max_message_bytes``."""
        fits = max(1, max_message_bytes // 200)
        return cls(
            max_sweep_points=max_sweep_points,
            chunk_points=min(cls.chunk_points, fits),
            max_chunk_points=min(cls.max_chunk_points, fits),
        )


def unary(
    paths: Mapping[str, str] | None = None,
) -> Callable[
    [Callable[[PlannerService, _Req], _Resp]],
    Callable[[PlannerService, _Req, Context], Coroutine[Any, Any, _Resp]],
]:
    """A unary handler from a plain function of the request, run in the worker pool."""
    field_paths = paths or {}

    def decorate(
        fn: Callable[[PlannerService, _Req], _Resp],
    ) -> Callable[[PlannerService, _Req, Context], Coroutine[Any, Any, _Resp]]:
        @functools.wraps(fn)
        async def handler(self: PlannerService, request: _Req, context: Context) -> _Resp:
            try:
                return await self.in_pool(fn, self, request)
            except Exception as exc:
                await errors.abort(context, exc, field_paths)

        return handler

    return decorate


def server_stream(
    paths: Mapping[str, str] | None = None,
) -> Callable[
    [Callable[[PlannerService, _Req], Iterable[Callable[[], _Resp]]]],
    Callable[[PlannerService, _Req, Context], AsyncIterator[_Resp]],
]:
    """A server-streaming handler from a function returning thunks, one per message."""
    field_paths = paths or {}

    def decorate(
        fn: Callable[[PlannerService, _Req], Iterable[Callable[[], _Resp]]],
    ) -> Callable[[PlannerService, _Req, Context], AsyncIterator[_Resp]]:
        method = f"/{SERVICE}/{fn.__name__}"

        @functools.wraps(fn)
        async def handler(
            self: PlannerService, request: _Req, context: Context
        ) -> AsyncIterator[_Resp]:
            try:
                thunks = await self.in_pool(fn, self, request)
                for thunk in thunks:
                    # A cancelled or expired call is also cancelled at the next await; this
                    # check only spares the pool one chunk when it was missed.
                    if context.cancelled():
                        return
                    yield await self.in_pool(self._counted, method, thunk)
            except Exception as exc:
                await errors.abort(context, exc, field_paths)

        return handler

    return decorate


def _catalog_name(value: str) -> str:
    if not value:
        raise InvalidArgumentError("name: required (a catalog name)", field="name")
    return value


class PlannerService(planner_pb2_grpc.PlannerServiceServicer):
    """Handlers of PlannerService over one catalog, running core calls in ``executor``."""

    def __init__(
        self, catalog: Catalog, executor: Executor, metrics: Metrics, limits: Limits | None = None
    ) -> None:
        self.catalog = catalog
        self.executor = executor
        self.metrics = metrics
        self.limits = limits or Limits()

    async def in_pool(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _counted(self, method: str, thunk: Callable[[], _T]) -> _T:
        result = thunk()
        self.metrics.chunk_computed(method)
        return result

    # ---- catalog ----

    @unary()
    def ListCatalog(self, request: pb.ListCatalogRequest) -> pb.ListCatalogResponse:
        names = self.catalog.names()
        return pb.ListCatalogResponse(
            hardware=[_wire.hardware_message(self.catalog.hardware(n)) for n in names["hardware"]],
            models=[_wire.model_message(self.catalog.model(n)) for n in names["models"]],
            families=[_wire.family_message(self.catalog.family(n)) for n in names["families"]],
        )

    @unary(paths={"model": "name"})
    def GetModel(self, request: pb.GetModelRequest) -> pb.GetModelResponse:
        model = self.catalog.model(_catalog_name(request.name))
        return pb.GetModelResponse(model=_wire.model_message(model))

    @unary(paths={"hardware": "name"})
    def GetHardware(self, request: pb.GetHardwareRequest) -> pb.GetHardwareResponse:
        hardware = self.catalog.hardware(_catalog_name(request.name))
        return pb.GetHardwareResponse(hardware=_wire.hardware_message(hardware))

    @unary(paths={"family": "name"})
    def GetFamily(self, request: pb.GetFamilyRequest) -> pb.GetFamilyResponse:
        family = self.catalog.family(_catalog_name(request.name))
        return pb.GetFamilyResponse(family=_wire.family_message(family))

    # ---- cost ----

    @unary(paths=_wire.INFERENCE_COST_ARGS)
    def InferenceCost(self, request: pb.InferenceCostRequest) -> pb.InferenceCostResponse:
        cost = inference_cost(**_wire.inference_cost_kwargs(request), catalog=self.catalog)
        return pb.InferenceCostResponse(cost=_wire.inference_cost_message(cost))

    @server_stream(paths=_wire.SWEEP_ARGS)
    def InferenceCostSweep(
        self, request: pb.InferenceCostSweepRequest
    ) -> Iterator[Callable[[], pb.InferenceCostSweepResponse]]:
        sweep = Sweep(request, self.limits, self.catalog)
        return sweep.chunks()

    @unary(paths=_wire.TRAINING_COST_ARGS)
    def TrainingCost(self, request: pb.TrainingCostRequest) -> pb.TrainingCostResponse:
        cost = training_cost(**_wire.training_cost_kwargs(request), catalog=self.catalog)
        return pb.TrainingCostResponse(cost=_wire.training_cost_message(cost))


_AT_ELEMENT = re.compile(r" \(at element \d+\)$")


class Sweep:
    """An InferenceCostSweep request checked and cut into chunks of grid points, each priced by
    one vectorised call of :func:`scaleplan.inference_cost`."""

    def __init__(self, request: pb.InferenceCostSweepRequest, limits: Limits, catalog: Catalog):
        self.catalog = catalog
        self.options = _wire.inference_options(request)
        self.axes: list[tuple[str, npt.NDArray[np.float64] | None]] = []
        for arg, field in _wire.SWEEP_AXES:
            values = getattr(request.grid, field)
            self.axes.append((arg, np.array(values, dtype=np.float64) if len(values) else None))
        for arg, values in self.axes[:2]:
            if values is None:
                raise InvalidArgumentError(f"{arg}: the grid needs at least one value", field=arg)
        batch = _wire.batch_argument(request.batch_mode, self.axes[-1][1] is not None)
        if batch == "max":
            self.options["batch"] = "max"
        self.shape = tuple(1 if values is None else len(values) for _, values in self.axes)
        self.total = math.prod(self.shape)
        if self.total > limits.max_sweep_points:
            raise LimitExceededError(
                f"grid: {self.total} points (the product of the axis lengths {self.shape}) "
                f"exceed the limit of {limits.max_sweep_points} per sweep",
                field="grid",
                limit=limits.max_sweep_points,
                got=self.total,
            )
        chunk = request.chunk_points or limits.chunk_points
        self.chunk = max(1, min(chunk, limits.max_chunk_points))

    def chunks(self) -> Iterator[Callable[[], pb.InferenceCostSweepResponse]]:
        for start in range(0, self.total, self.chunk):
            yield functools.partial(self.compute, start, min(self.total, start + self.chunk))

    def compute(self, start: int, stop: int) -> pb.InferenceCostSweepResponse:
        index = np.unravel_index(np.arange(start, stop), self.shape)
        kwargs = dict(self.options)
        for axis, (arg, values) in enumerate(self.axes):
            if values is not None:
                kwargs[arg] = values[index[axis]]
        try:
            cost = inference_cost(**kwargs, catalog=self.catalog)
        except ScaleplanError as exc:
            raise self._locate(exc, start) from None
        return pb.InferenceCostSweepResponse(
            start_index=start,
            total_points=self.total,
            costs=_wire.inference_cost_columns(cost),
        )

    def _locate(self, exc: ScaleplanError, start: int) -> ScaleplanError:
        """Point an error about element i of a chunk at the axis value it came from."""
        if exc.index is None:
            return exc
        point = start + exc.index
        names = [arg for arg, _ in self.axes]
        axis = names.index(exc.field) if exc.field in names else None
        if axis is None or self.axes[axis][1] is None:
            exc.index = None
        else:
            exc.index = int(np.unravel_index(point, self.shape)[axis])
        exc.message = f"{_AT_ELEMENT.sub('', exc.message)} (grid point {point})"
        exc.args = (exc.message,)
        return exc
