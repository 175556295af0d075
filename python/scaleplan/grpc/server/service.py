"""``scaleplan.v1.PlannerService``: one handler per RPC, each a plain function of its request.

Adding an RPC (a planner, once its Python API exists) takes its ``<Rpc>Request``/``<Rpc>Response``
pair in ``proto/scaleplan/v1/planner.proto``, ``make proto``, a request -> keyword-arguments and a
result -> message function in ``scaleplan/grpc/conversions.py``, and one method here::

    @unary(paths={"python_argument": "request.field.path"})
    def SomePlan(self, request: pb.SomePlanRequest) -> pb.SomePlanResponse:
        plan = scaleplan.some_plan(**conversions.some_plan_kwargs(request), catalog=self.catalog)
        return pb.SomePlanResponse(plan=conversions.plan_message(plan))

and, for :class:`scaleplan.Client`, a ``Method`` in ``scripts/gen_client.py`` (run it: the
client's method takes the façade function's parameters) and a ``Client._<function>`` handler.
``@unary`` runs the function in the worker pool (:class:`CorePool`), off the event loop (the Rust
core releases the GIL), and turns any exception into a status through ``errors.TABLE``, naming the
request field by ``paths`` (a mapping, or a function of the request returning one, where the path
depends on which member of a oneof is set). A server-streaming RPC uses ``@server_stream``: its
function checks the request and returns an iterator of thunks, each computing one response
message in the pool; a cancelled or expired call stops between two of them. A sweep is such a
stream of chunks of grid points, a frontier of chunks of budgets, both cut by the façade
(:mod:`scaleplan.sweep`) as ``scaleplan sweep`` and the client cut them.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc.aio
import numpy as np
import numpy.typing as npt
from google.protobuf.message import Message

from scaleplan import sweep
from scaleplan.accuracy_fit import fit_accuracy
from scaleplan.agent import plan_agent
from scaleplan.calibrate import calibrate
from scaleplan.cancel import CancelToken
from scaleplan.cancel import scope as cancel_scope
from scaleplan.catalog import Catalog
from scaleplan.cost import inference_cost, training_cost
from scaleplan.errors import (
    Cancelled,
    InvalidArgumentError,
)
from scaleplan.fit import fit_law
from scaleplan.grpc import conversions
from scaleplan.grpc.server import errors
from scaleplan.grpc.server.metrics import Metrics
from scaleplan.grpc.server.pool import CorePool
from scaleplan.joint import frontier_joint, plan_joint
from scaleplan.laws import law
from scaleplan.parscale import parscale_law, plan_parscale
from scaleplan.plan import ALGORITHMIC_PROGRESS, plan_lifetime, plan_training
from scaleplan.rag import fit_rag, plan_rag, rag_law
from scaleplan.sweep import budget_chunks
from scaleplan.testtime import Accuracy, frontier_test_time, plan_test_time
from scaleplan.v1 import catalog_pb2, plan_pb2, planner_pb2_grpc
from scaleplan.v1 import planner_pb2 as pb

SERVICE = "scaleplan.v1.PlannerService"

if TYPE_CHECKING:  # generic in grpc's stubs only
    Context = grpc.aio.ServicerContext[Any, Any]
_Req = TypeVar("_Req", bound=Message)
_Resp = TypeVar("_Resp", bound=Message)
_T = TypeVar("_T")
# Request field paths by Python argument name: fixed, or a function of the request.
Paths = Mapping[str, str] | Callable[[Any], Mapping[str, str]]


@dataclass(frozen=True)
class Limits:
    """Server limits on the work one request may ask for."""

    max_sweep_points: int = 1_000_000
    """Points in one InferenceCostSweep grid, and budgets in one frontier; more is
    INVALID_ARGUMENT (LIMIT_EXCEEDED)."""
    chunk_points: int = 4096
    """Points per streamed message when the request leaves chunk_points at 0."""
    max_chunk_points: int = 8192
    """Largest chunk (~160 bytes a point: 8192 points is about 1.3 MB, under the 4 MiB
    default message limit of gRPC clients)."""
    test_time_chunk_points: int = sweep.TEST_TIME_CHUNK_BUDGETS
    """Budgets per FrontierTestTime message when the request leaves chunk_points at 0."""
    joint_chunk_points: int = sweep.JOINT_CHUNK_BUDGETS
    """Budgets per FrontierJoint message when the request leaves chunk_points at 0."""
    max_message_bytes: int = 4 * 1024 * 1024
    """A frontier chunk takes at most half of this (chunks shrink with the number of models)."""

    @classmethod
    def for_message_size(cls, max_sweep_points: int, max_message_bytes: int) -> Limits:
        """Limits whose largest chunk fits in a message of ``max_message_bytes``."""
        fits = max(1, max_message_bytes // 200)
        return cls(
            max_sweep_points=max_sweep_points,
            chunk_points=min(cls.chunk_points, fits),
            max_chunk_points=min(cls.max_chunk_points, fits),
            max_message_bytes=max_message_bytes,
        )


def _paths_of(paths: Paths | None, request: Any) -> Mapping[str, str]:
    if paths is None:
        return {}
    return paths(request) if callable(paths) else paths


def unary(
    paths: Paths | None = None,
) -> Callable[
    [Callable[[PlannerService, _Req], _Resp]],
    Callable[[PlannerService, _Req, Context], Coroutine[Any, Any, _Resp]],
]:
    """A unary handler from a plain function of the request, run in the worker pool."""

    def decorate(
        fn: Callable[[PlannerService, _Req], _Resp],
    ) -> Callable[[PlannerService, _Req, Context], Coroutine[Any, Any, _Resp]]:
        @functools.wraps(fn)
        async def handler(self: PlannerService, request: _Req, context: Context) -> _Resp:
            token = self.call_token(context)
            try:
                return await self.in_pool(_scoped, token, fn, self, request)
            except Cancelled as exc:
                await _abort_cancelled(context, token, exc)
            except Exception as exc:
                await errors.abort(context, exc, _paths_of(paths, request))
            finally:  # also when the call is cancelled (CancelledError) under the pool call
                self.release(token)

        return handler

    return decorate


def server_stream(
    paths: Paths | None = None,
) -> Callable[
    [Callable[[PlannerService, _Req], Iterable[Callable[[], _Resp]]]],
    Callable[[PlannerService, _Req, Context], AsyncIterator[_Resp]],
]:
    """A server-streaming handler from a function returning thunks, one per message."""

    def decorate(
        fn: Callable[[PlannerService, _Req], Iterable[Callable[[], _Resp]]],
    ) -> Callable[[PlannerService, _Req, Context], AsyncIterator[_Resp]]:
        method = f"/{SERVICE}/{fn.__name__}"

        @functools.wraps(fn)
        async def handler(
            self: PlannerService, request: _Req, context: Context
        ) -> AsyncIterator[_Resp]:
            token = self.call_token(context)
            try:
                thunks = await self.in_pool(_scoped, token, fn, self, request)
                for thunk in thunks:
                    # A cancelled or expired call is also cancelled at the next await; this
                    # check only spares the pool one chunk when it was missed.
                    if context.cancelled():
                        return
                    yield await self.in_pool(_scoped, token, self._counted, method, thunk)
            except Cancelled as exc:
                await _abort_cancelled(context, token, exc)
            except Exception as exc:
                await errors.abort(context, exc, _paths_of(paths, request))
            finally:  # also when the call is cancelled (CancelledError, GeneratorExit)
                self.release(token)

        return handler

    return decorate


def _scoped(token: CancelToken, fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` with ``token`` the default ``cancel=`` of the planners it calls."""
    with cancel_scope(token):
        return fn(*args)


async def _abort_cancelled(context: Context, token: CancelToken, exc: Cancelled) -> NoReturn:
    """A call its token stopped: DEADLINE_EXCEEDED when the deadline fired, else CANCELLED
    (raises, as ``context.abort`` does)."""
    code = grpc.StatusCode.DEADLINE_EXCEEDED if token.expired else grpc.StatusCode.CANCELLED
    await context.abort(code, exc.message)
    raise AssertionError("unreachable: abort raises")


def _catalog_name(value: str) -> str:
    if not value:
        raise InvalidArgumentError("name: required (a catalog name)", field="name")
    return value


class PlannerService(planner_pb2_grpc.PlannerServiceServicer):
    """Handlers of PlannerService over one catalog, running core calls in ``pool``."""

    def __init__(
        self, catalog: Catalog, pool: CorePool, metrics: Metrics, limits: Limits | None = None
    ) -> None:
        self.catalog = catalog
        self.pool = pool
        self.metrics = metrics
        self.limits = limits or Limits()
        self._listing: pb.ListCatalogResponse | None = None
        self._live: set[CancelToken] = set()

    def call_token(self, context: Context) -> CancelToken:
        """The call's cancellation token (docs/limits.md): it expires at the call's deadline,
        and fires when the handler ends any other way (:meth:`release`: the client's cancel
        cancels the handler) or when :meth:`cancel_all` runs (the end of SIGTERM's grace), so
        the core stops within ~0.1 s instead of finishing work nobody will read."""
        remaining = context.time_remaining()
        finite = remaining is not None and math.isfinite(remaining)
        token = CancelToken(timeout_s=max(0.0, remaining) if finite else None)
        self._live.add(token)
        return token

    def release(self, token: CancelToken) -> None:
        """The handler of ``token``'s call has ended: stop whatever core work it left."""
        token.cancel()
        self._live.discard(token)

    def cancel_all(self) -> None:
        """Fire the token of every call in flight (their planners stop within ~0.1 s)."""
        for token in list(self._live):
            token.cancel()

    def in_pool(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        return self.pool.submit(fn, *args)

    def _counted(self, method: str, thunk: Callable[[], _T]) -> _T:
        result = thunk()
        self.metrics.chunk_computed(method)
        return result

    # ---- catalog ----

    async def ListCatalog(
        self, request: pb.ListCatalogRequest, context: Context
    ) -> pb.ListCatalogResponse:
        """The catalog is immutable: its listing (~0.1 ms to build) is built once, then shared
        by every call (gRPC only reads a response message)."""
        if self._listing is None:
            self._listing = await self._build_listing(request, context)
        return self._listing

    @unary()
    def _build_listing(self, request: pb.ListCatalogRequest) -> pb.ListCatalogResponse:
        names = self.catalog.names()
        return pb.ListCatalogResponse(
            hardware=[
                conversions.hardware_message(self.catalog.hardware(n)) for n in names["hardware"]
            ],
            models=[conversions.model_message(self.catalog.model(n)) for n in names["models"]],
            families=[
                conversions.family_message(self.catalog.family(n)) for n in names["families"]
            ],
            laws=[conversions.law_message(law(n, self.catalog)) for n in names["laws"]],
            accuracy_presets=[
                catalog_pb2.AccuracyPreset(
                    name=n, models=Accuracy.preset(n, catalog=self.catalog).models()
                )
                for n in names["accuracy"]
            ],
            rag_laws=[conversions.rag_law_message(rag_law(n, self.catalog)) for n in names["rag"]],
            parscale_laws=[
                conversions.parscale_law_message(parscale_law(n, self.catalog))
                for n in names["parscale"]
            ],
            algorithmic_progress=conversions.algorithmic_progress_message(ALGORITHMIC_PROGRESS),
        )

    @unary(paths={"model": "name"})
    def GetModel(self, request: pb.GetModelRequest) -> pb.GetModelResponse:
        model = self.catalog.model(_catalog_name(request.name))
        return pb.GetModelResponse(model=conversions.model_message(model))

    @unary(paths={"hardware": "name"})
    def GetHardware(self, request: pb.GetHardwareRequest) -> pb.GetHardwareResponse:
        hardware = self.catalog.hardware(_catalog_name(request.name))
        return pb.GetHardwareResponse(hardware=conversions.hardware_message(hardware))

    @unary(paths={"family": "name"})
    def GetFamily(self, request: pb.GetFamilyRequest) -> pb.GetFamilyResponse:
        family = self.catalog.family(_catalog_name(request.name))
        return pb.GetFamilyResponse(family=conversions.family_message(family))

    @unary(paths={"law": "name"})
    def GetLaw(self, request: pb.GetLawRequest) -> pb.GetLawResponse:
        the_law = law(_catalog_name(request.name), self.catalog)
        return pb.GetLawResponse(law=conversions.law_message(the_law))

    # ---- cost ----

    @unary(paths=conversions.INFERENCE_COST_ARGS)
    def InferenceCost(self, request: pb.InferenceCostRequest) -> pb.InferenceCostResponse:
        cost = inference_cost(**conversions.inference_cost_kwargs(request), catalog=self.catalog)
        return pb.InferenceCostResponse(cost=conversions.inference_cost_message(cost))

    @server_stream(paths=conversions.SWEEP_ARGS)
    def InferenceCostSweep(
        self, request: pb.InferenceCostSweepRequest
    ) -> Iterator[Callable[[], pb.InferenceCostSweepResponse]]:
        kwargs = conversions.inference_cost_sweep_kwargs(request)
        limits = self.limits
        chunk = max(1, min(request.chunk_points or limits.chunk_points, limits.max_chunk_points))
        max_points = limits.max_sweep_points
        total = sweep.Grid.of({**kwargs, "batch": kwargs["serving"].batch}, max_points).total
        chunks = sweep.iter_inference_cost_sweep(
            **kwargs, chunk_size=chunk, max_points=max_points, catalog=self.catalog
        )

        def message() -> pb.InferenceCostSweepResponse:
            part = next(chunks)
            return pb.InferenceCostSweepResponse(
                start_index=part.start_index,
                total_points=part.total_points,
                costs=conversions.inference_cost_columns(part.cost),
            )

        return (message for _ in range(0, total, chunk))

    @unary(paths=conversions.TRAINING_COST_ARGS)
    def TrainingCost(self, request: pb.TrainingCostRequest) -> pb.TrainingCostResponse:
        cost = training_cost(**conversions.training_cost_kwargs(request), catalog=self.catalog)
        return pb.TrainingCostResponse(cost=conversions.training_cost_message(cost))

    # ---- planners ----

    @unary(paths=conversions.plan_training_paths)
    def PlanTraining(self, request: pb.PlanTrainingRequest) -> pb.PlanTrainingResponse:
        plan = plan_training(**conversions.plan_training_kwargs(request), catalog=self.catalog)
        return pb.PlanTrainingResponse(
            plan=conversions.training_plan_message(plan), explanation=plan.explain()
        )

    @unary(paths=conversions.plan_lifetime_paths)
    def PlanLifetime(self, request: pb.PlanLifetimeRequest) -> pb.PlanLifetimeResponse:
        plan = plan_lifetime(**conversions.plan_lifetime_kwargs(request), catalog=self.catalog)
        return pb.PlanLifetimeResponse(
            plan=conversions.lifetime_plan_message(plan), explanation=plan.explain()
        )

    @unary(paths=conversions.plan_test_time_paths)
    def PlanTestTime(self, request: pb.PlanTestTimeRequest) -> pb.PlanTestTimeResponse:
        kwargs = conversions.plan_test_time_kwargs(request, self.catalog)
        plan = plan_test_time(**kwargs, catalog=self.catalog)
        return pb.PlanTestTimeResponse(
            plan=conversions.test_time_plan_message(plan), explanation=plan.explain()
        )

    @server_stream(paths=conversions.frontier_test_time_paths)
    def FrontierTestTime(
        self, request: pb.FrontierTestTimeRequest
    ) -> Iterator[Callable[[], pb.FrontierTestTimeResponse]]:
        kwargs = conversions.test_time_kwargs(request.options, self.catalog, keep_fit=False)
        if (unit := conversions.enum_text(plan_pb2.CostUnit, request.unit, "unit")) is not None:
            kwargs["unit"] = unit
        if "models" in kwargs:
            candidates = len(kwargs["models"])
        elif "family" in kwargs:
            candidates = len(self.catalog.family(kwargs["family"]).members)
        else:
            candidates = len(kwargs["accuracy"].models())

        def solve(
            budgets: npt.NDArray[np.float64], start: int, total: int
        ) -> pb.FrontierTestTimeResponse:
            frontier = frontier_test_time(budgets=budgets, **kwargs, catalog=self.catalog)
            return pb.FrontierTestTimeResponse(
                start_index=start,
                total_points=total,
                plan=conversions.test_time_plan_columns(frontier.plan),
                per_model=conversions.model_accuracy_curves(frontier.per_model),
            )

        point_bytes = 10 * (16 + candidates) + 64
        default = self.limits.test_time_chunk_points
        chunk = self._frontier_chunk(request.chunk_points, default, point_bytes)
        return budget_chunks(request.budgets, chunk, solve, max_points=self.limits.max_sweep_points)

    @unary(paths=conversions.plan_joint_paths)
    def PlanJoint(self, request: pb.PlanJointRequest) -> pb.PlanJointResponse:
        plan = plan_joint(**conversions.plan_joint_kwargs(request), catalog=self.catalog)
        return pb.PlanJointResponse(
            plan=conversions.joint_plan_message(plan), explanation=plan.explain()
        )

    @server_stream(paths=conversions.frontier_joint_paths)
    def FrontierJoint(
        self, request: pb.FrontierJointRequest
    ) -> Iterator[Callable[[], pb.FrontierJointResponse]]:
        kwargs = conversions.joint_kwargs(request.options)

        def solve(
            budgets: npt.NDArray[np.float64], start: int, total: int
        ) -> pb.FrontierJointResponse:
            plan = frontier_joint(budgets=budgets, **kwargs, catalog=self.catalog)
            return pb.FrontierJointResponse(
                start_index=start, total_points=total, plan=conversions.joint_plan_columns(plan)
            )

        chunk = self._frontier_chunk(request.chunk_points, self.limits.joint_chunk_points, 234)
        return budget_chunks(request.budgets, chunk, solve, max_points=self.limits.max_sweep_points)

    def _frontier_chunk(self, chunk_points: int, default: int, point_bytes: int) -> int:
        """Budgets per frontier message: the request's (0: ``default``), at most what fits in
        half a message of ``point_bytes`` a budget."""
        fits = max(1, self.limits.max_message_bytes // 2 // point_bytes)
        return max(1, min(chunk_points or default, fits))

    # ---- fitting ----

    @unary(paths=conversions.FIT_LAW_ARGS)
    def FitLaw(self, request: pb.FitLawRequest) -> pb.FitLawResponse:
        level = conversions.fit_law_level(request)
        fit = fit_law(**conversions.fit_law_kwargs(request))
        return conversions.fit_law_message(fit, level)

    @unary(paths=conversions.FIT_ACCURACY_ARGS)
    def FitAccuracy(self, request: pb.FitAccuracyRequest) -> pb.FitAccuracyResponse:
        fit = fit_accuracy(**conversions.fit_accuracy_kwargs(request))
        return pb.FitAccuracyResponse(fit=conversions.accuracy_fit_message(fit))

    @unary(paths=conversions.CALIBRATE_ARGS)
    def Calibrate(self, request: pb.CalibrateRequest) -> pb.CalibrateResponse:
        cal = calibrate(**conversions.calibrate_kwargs(request), catalog=self.catalog)
        return conversions.calibrate_message(cal)

    # Parallel streams (ParScale).
    @unary(paths=conversions.plan_parscale_paths)
    def PlanParScale(self, request: pb.PlanParScaleRequest) -> pb.PlanParScaleResponse:
        plan = plan_parscale(**conversions.plan_parscale_kwargs(request), catalog=self.catalog)
        return pb.PlanParScaleResponse(
            plan=conversions.parscale_plan_message(plan), explanation=plan.explain()
        )

    # ---- agent planner ----

    @unary(paths=conversions.PLAN_AGENT_ARGS)
    def PlanAgent(self, request: pb.PlanAgentRequest) -> pb.PlanAgentResponse:
        plan = plan_agent(**conversions.plan_agent_kwargs(request), catalog=self.catalog)
        return pb.PlanAgentResponse(
            plan=conversions.agent_plan_message(plan), explanation=plan.explain()
        )

    @unary(paths=conversions.plan_rag_paths)
    def PlanRag(self, request: pb.PlanRagRequest) -> pb.PlanRagResponse:
        plan = plan_rag(**conversions.plan_rag_kwargs(request), catalog=self.catalog)
        return pb.PlanRagResponse(
            plan=conversions.rag_plan_message(plan), explanation=plan.explain()
        )

    @unary(paths=conversions.FIT_RAG_ARGS)
    def FitRag(self, request: pb.FitRagRequest) -> pb.FitRagResponse:
        fit = fit_rag(**conversions.fit_rag_kwargs(request), catalog=self.catalog)
        return conversions.fit_rag_response(fit)
