"""A small typed client of the gRPC planning service, for scripts.

Its methods are the Python API's functions (their parameters generated from the façade's
signatures into ``_remote.RemoteApi`` by scripts/gen_client.py, plus ``timeout_s``) and return the
same dataclasses, priced by the server's catalog (a model by name or as a Model, sent whole;
hardware by name, or as a Hardware the server's catalog also has; a law by name or as a
LossLaw; test-time accuracy by preset name, an Accuracy.preset, or measured eval rows as mappings
or a pathlib.Path of their file). Cost arguments broadcast as in the Python API (arrays that
each vary along a dimension of their own are one sweep stream, others are priced one call per
point); a planner's goal is one number per call; frontiers take arrays of budgets and arrive as
streams of chunks, cut by :mod:`scaleplan.sweep` on the server. A call the server refuses as
invalid raises the :mod:`scaleplan.errors` class the Python API raises, with ``.field`` the
Python argument name; any other failure raises the ``grpc.RpcError``::

    with scaleplan.Client("127.0.0.1:50051") as client:
        cost = client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192)
        plan = client.plan_test_time(budget_eflops=1e15)
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import itertools
import json
import math
import os
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
import numpy as np
import numpy.typing as npt
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_status import rpc_status

from scaleplan import sweep
from scaleplan._arrays import Broadcast, FloatArray
from scaleplan.accuracy_fit import AccuracyFit
from scaleplan.agent import AgentPlan
from scaleplan.calibrate import Calibration, runs_of
from scaleplan.catalog import Family, Hardware, Model
from scaleplan.cost import InferenceCost, TrainingCost
from scaleplan.errors import (
    InvalidArgumentError,
    LimitExceededError,
    ScaleplanError,
    UnknownNameError,
)
from scaleplan.fit import LawFit
from scaleplan.grpc import conversions
from scaleplan.grpc._remote import RemoteApi
from scaleplan.joint import JointPlan
from scaleplan.laws import LossLaw
from scaleplan.parscale import ParScalePlan
from scaleplan.plan import LifetimePlan, TrainingPlan
from scaleplan.rag import RagFit, RagPlan, rag_rows
from scaleplan.serving import (
    Serving,
    attention,
    attention_choices,
    is_attention,
    serving_value,
)
from scaleplan.sweep import SweepChunk
from scaleplan.testtime import Accuracy, TestTimeFrontier, TestTimePlan
from scaleplan.v1 import planner_pb2 as pb
from scaleplan.v1 import planner_pb2_grpc

_R = TypeVar("_R")
_D = TypeVar("_D")

__all__ = ["Client", "IncompleteStreamError", "SweepChunk"]


def _service_config(max_attempts: int) -> str:
    """round_robin over the target's addresses, and a retry of every PlannerService and health
    call that fails with UNAVAILABLE (the server was draining or unreachable) or CANCELLED by
    the server: a server that starts draining cancels the calls it had received but not yet
    handed to a handler (seen in 3 of 6 runs of the replica test without this retry, none in 6
    with it). A call the client itself cancels or whose deadline passes is never retried."""
    retry = {
        "maxAttempts": max_attempts,
        "initialBackoff": "0.05s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
    }
    services = ("scaleplan.v1.PlannerService", "grpc.health.v1.Health")
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [{"name": [{"service": s} for s in services], "retryPolicy": retry}],
        }
    )


def channel_target(target: str | Sequence[str]) -> str:
    """The gRPC channel target for one address (as given) or several ``host:port`` addresses,
    which must be IP literals or ``localhost`` (127.0.0.1), all of one family: gRPC's ``ipv4:``
    and ``ipv6:`` resolvers take a list; names need one ``dns:///`` target instead."""
    if isinstance(target, str):
        if not target.strip():
            raise InvalidArgumentError("target: empty; give host:port", field="target")
        return target
    targets = list(target)
    if not targets:
        raise InvalidArgumentError(
            "target: an empty list; give at least one host:port", field="target"
        )
    if len(targets) == 1:
        return channel_target(targets[0])
    families: set[int] = set()
    addresses: list[str] = []
    for i, item in enumerate(targets):
        if not isinstance(item, str):
            raise InvalidArgumentError(f"target: not a string: {item!r}", field="target", index=i)
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")
        if host == "localhost":
            host = "127.0.0.1"
        try:
            ip = ipaddress.ip_address(host)
            if not sep or not 0 < int(port) < 65536:
                raise ValueError(port)
        except ValueError:
            raise InvalidArgumentError(
                f"target: {item!r} is not an IP-address:port; several targets must be IP "
                "addresses (or localhost) with a port: for a name use one 'dns:///name:port' "
                "target, whose addresses round_robin spreads calls over",
                field="target",
                index=i,
            ) from None
        families.add(ip.version)
        addresses.append(f"[{ip}]:{int(port)}" if ip.version == 6 else f"{ip}:{int(port)}")
    if len(families) > 1:
        raise InvalidArgumentError(
            "target: mixes IPv4 and IPv6 addresses; gRPC resolves one family per channel",
            field="target",
        )
    return ("ipv6:" if 6 in families else "ipv4:") + ",".join(addresses)


class IncompleteStreamError(ScaleplanError):
    """A sweep stream ended early or out of order."""


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def _error(exc: grpc.RpcError) -> Exception:
    """The scaleplan exception a refused call stands for, or the RpcError itself."""
    if not isinstance(exc, grpc.Call):
        return exc
    try:
        status = rpc_status.from_call(exc)
    except ValueError:
        return exc
    if status is None:
        return exc
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if not (detail.Is(info.DESCRIPTOR) and detail.Unpack(info)) or info.domain != "scaleplan":
            continue
        data = dict(info.metadata)
        field = data.get("argument", "")
        # The violation's description is the error's reason (server/errors.py): the message
        # is rebuilt as the Python API builds it, from the same data.
        reason = next((v.description for v in _violations(status)), status.message)
        message = f"{field}: {reason}" if field else reason
        where: dict[str, Any] = {
            "field": field,
            "index": _int(data.get("index")),
            "row": _int(data.get("row")),
            "file": data.get("file"),
            "reason": reason if field else None,
        }
        if info.reason == "UNKNOWN_NAME":
            known = data.get("known", "")
            return UnknownNameError(
                message,
                kind=data.get("kind", ""),
                name=data.get("name", ""),
                known=known.split(",") if known else [],
                preset=data.get("preset"),
                **where,
            )
        if info.reason == "LIMIT_EXCEEDED":
            return LimitExceededError(
                message,
                limit=int(data.get("limit", 0)),
                got=int(data.get("got", 0)),
                **where,
            )
        if info.reason == "INVALID_ARGUMENT":
            return InvalidArgumentError(message, **where)
    return exc


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def _violations(status: Any) -> list[error_details_pb2.BadRequest.FieldViolation]:
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Is(bad.DESCRIPTOR) and detail.Unpack(bad):
            return list(bad.field_violations)
    return []


class Client(RemoteApi):
    """A connection to ``scaleplan serve`` at ``target`` (``host:port``), or to several
    replicas of it.

    ``target`` may be a list of ``host:port`` addresses (IP literals or ``localhost``): calls
    are then spread over them by gRPC's own ``round_robin`` policy, and a replica that stops
    (draining, or gone) is left out until it serves again. One ``dns:///name:port`` target
    spreads the same way over every address the name resolves to. ``connections`` opens that
    many connections (channels) to the target(s) and rotates the calls over them: a server run
    with ``--processes N`` spreads connections, not calls, over its processes, so one client
    uses all N with ``connections=N`` or more. Every call is retried (at most
    ``MAX_ATTEMPTS`` attempts in all) when it fails with UNAVAILABLE, or is CANCELLED by a
    server that started draining, before the server answered: the planner's calls have no side
    effects, so a retry is safe. See docs/server.md, "Several
    processes on one port".

    ``tls_ca`` (PEM file) switches to TLS and is the CA that signed the server's certificate;
    ``tls_cert``/``tls_key`` add a client certificate (mutual TLS); ``token`` is sent as
    ``authorization: Bearer <token>``. ``timeout_s`` is each call's deadline (a whole sweep
    stream's for sweeps) unless the call gives its own.
    """

    MAX_ATTEMPTS = 3
    MAX_CONNECTIONS = 64

    def __init__(
        self,
        target: str | Sequence[str],
        *,
        token: str | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        timeout_s: float = 30.0,
        max_message_bytes: int = 4 * 1024 * 1024,
        connections: int = 1,
    ) -> None:
        if (
            isinstance(connections, bool)
            or not isinstance(connections, int)
            or not 1 <= connections <= self.MAX_CONNECTIONS
        ):
            raise InvalidArgumentError(
                f"connections: must be an integer from 1 to {self.MAX_CONNECTIONS} "
                f"(got {connections!r})",
                field="connections",
            )
        address = channel_target(target)
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.service_config", _service_config(self.MAX_ATTEMPTS)),
            ("grpc.enable_retries", 1),
        ]
        if connections > 1:
            # A channel of its own subchannels, hence its own TCP connection(s).
            options.append(("grpc.use_local_subchannel_pool", 1))
        credentials = None
        if tls_ca is not None or tls_cert is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca),
                private_key=_read(tls_key),
                certificate_chain=_read(tls_cert),
            )
        self._channels = [
            grpc.insecure_channel(address, options)
            if credentials is None
            else grpc.secure_channel(address, credentials, options)
            for _ in range(connections)
        ]
        self._channel = self._channels[0]
        self._stubs = [planner_pb2_grpc.PlannerServiceStub(c) for c in self._channels]
        self._health_checks = [
            c.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )
            for c in self._channels
        ]
        self._turn = itertools.count()
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s

    @property
    def _stub(self) -> planner_pb2_grpc.PlannerServiceStub:
        """The next connection's stub (calls rotate over ``connections``)."""
        return self._stubs[next(self._turn) % len(self._stubs)]

    @property
    def _health_check(self) -> Any:
        return self._health_checks[next(self._turn) % len(self._health_checks)]

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _unary(self, method: Any, request: Any, timeout_s: float | None) -> Any:
        try:
            return method(
                request,
                timeout=self.timeout_s if timeout_s is None else timeout_s,
                metadata=self._metadata,
            )
        except grpc.RpcError as exc:
            raise _error(exc) from exc

    # ---- health and catalog ----

    def health(self, service: str = "", *, timeout_s: float | None = None) -> str:
        """The serving status of the server ("") or one service: SERVING, NOT_SERVING, ..."""
        response = self._unary(
            self._health_check, health_pb2.HealthCheckRequest(service=service), timeout_s
        )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def catalog(self, *, timeout_s: float | None = None) -> dict[str, list[str]]:
        """Names of the server's hardware, models, families, laws, test-time accuracy presets,
        RAG laws and parallel-scaling laws, keyed as ``scaleplan.catalog()`` keys them."""
        response = self._unary(self._stub.ListCatalog, pb.ListCatalogRequest(), timeout_s)
        return {
            "hardware": [h.name for h in response.hardware],
            "models": [m.name for m in response.models],
            "families": [f.name for f in response.families],
            "laws": [law.name for law in response.laws],
            "accuracy": [a.name for a in response.accuracy_presets],
            "rag": [r.name for r in response.rag_laws],
            "parscale": [p.name for p in response.parscale_laws],
        }

    def model(self, name: str, *, timeout_s: float | None = None) -> Model:
        response = self._unary(self._stub.GetModel, pb.GetModelRequest(name=name), timeout_s)
        return conversions.model_from(response.model)

    def hardware(self, name: str, *, timeout_s: float | None = None) -> Hardware:
        request = pb.GetHardwareRequest(name=name)
        response = self._unary(self._stub.GetHardware, request, timeout_s)
        return conversions.hardware_from(response.hardware)

    def family(self, name: str, *, timeout_s: float | None = None) -> Family:
        response = self._unary(self._stub.GetFamily, pb.GetFamilyRequest(name=name), timeout_s)
        return conversions.family_from(response.family)

    def law(self, name: str, *, timeout_s: float | None = None) -> LossLaw:
        response = self._unary(self._stub.GetLaw, pb.GetLawRequest(name=name), timeout_s)
        return conversions.law_from(response.law)

    def _stream(
        self, method: Any, request: Any, timeout_s: float | None, size: Callable[[Any], int]
    ) -> Generator[Any]:
        """The messages of a chunked stream, checked to be in order and complete (``size``:
        the points of one message)."""
        stream = method(
            request,
            timeout=self.timeout_s if timeout_s is None else timeout_s,
            metadata=self._metadata,
        )
        expected, total = 0, None
        try:
            for message in stream:
                if message.start_index != expected:
                    raise IncompleteStreamError(
                        f"chunk starts at point {message.start_index}, expected {expected}",
                        field="start_index",
                    )
                total = message.total_points
                expected += size(message)
                yield message
        except grpc.RpcError as exc:
            raise _error(exc) from exc
        finally:
            stream.cancel()  # no-op once the stream ended; stops the server if we stop early
        if total is None or expected != total:
            raise IncompleteStreamError(
                f"stream ended after {expected} of {total} points", field="total_points"
            )

    # ---- the façade's functions (their signatures: _remote.RemoteApi) ----

    def _call(self, api: str, arguments: dict[str, Any]) -> Any:
        """Run façade function ``api`` on the server with a generated method's ``locals()``."""
        args = {k: v for k, v in arguments.items() if k not in ("self", "timeout_s")}
        timeout_s = arguments.get("timeout_s")
        for name, value in list(args.items()):
            args[name] = self._catalog_name(name, value, timeout_s)
        handler: Callable[[dict[str, Any], float | None], Any] = getattr(self, f"_{api}")
        return handler(args, timeout_s)

    def _catalog_name(self, name: str, value: Any, timeout_s: float | None) -> Any:
        """A Hardware object as its catalog name, when it is the server's entry of that name:
        the server prices its own catalog's hardware (Model objects travel whole). A
        Calibration does not travel: plans on its bootstrap samples are made locally
        (docs/uncertainty.md, "Calibrated hardware")."""
        if isinstance(value, Calibration):
            raise InvalidArgumentError(
                f"{name}: a Calibration is not sent to the server (it prices its own catalog's "
                "hardware); plan locally with it, or add calibration.hardware to the server's "
                "catalog and pass that",
                field=name,
            )
        if not isinstance(value, Hardware):
            return value
        try:
            known = self.hardware(value.name, timeout_s=timeout_s)
        except UnknownNameError:
            known = None
        if known != value:
            raise InvalidArgumentError(
                f"{name}: the server prices the hardware of its own catalog, and its "
                f"{value.name!r} is not this Hardware object (not in its catalog, or different "
                "there); add the entry to the server's catalog",
                field=name,
            )
        return value.name

    def _many(
        self,
        method: Any,
        requests: Sequence[Any],
        timeout_s: float | None,
        convert: Callable[[Any], _R],
    ) -> list[_R]:
        """One unary call per request, a window of them in flight at a time; an error names
        the request's position in ``.index``."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        out: list[_R] = []
        for start in range(0, len(requests), _WINDOW):
            futures = [
                method.future(r, timeout=timeout, metadata=self._metadata)
                for r in requests[start : start + _WINDOW]
            ]
            try:
                for i, future in enumerate(futures):
                    try:
                        out.append(convert(future.result()))
                    except grpc.RpcError as exc:
                        error = _error(exc)
                        if isinstance(error, ScaleplanError) and error.index is None:
                            error.index = start + i
                        raise error from exc
            finally:
                for future in futures:
                    future.cancel()
        return out

    def _inference_cost(self, args: dict[str, Any], timeout_s: float | None) -> InferenceCost:
        args, spellings = _priced(args)
        grid = _broadcast(args, sweep.SWEEP_AXES)
        mesh = None if grid.scalar else _open_mesh(grid)
        if mesh is not None:  # a cartesian product of its arrays: one sweep stream
            axes = {name: values for name, (_, values) in mesh.items()}
            sweep_args = {**_at(args, grid, 0, spellings), **_unpriced(axes, spellings)}
            sweep_args["serving"] = _with_batch(args["serving"], axes.get("batch"))
            try:
                cost = self._inference_cost_sweep({**sweep_args, "chunk_size": 0}, timeout_s)
            except ScaleplanError as exc:
                if exc.field in mesh and exc.index is not None:
                    # the first element of the broadcast with that axis value, as the façade
                    index = exc.index * math.prod(grid.shape[mesh[exc.field][0] + 1 :])
                    raise exc.replace(index=index) from exc
                raise
            return _from_mesh(cost, mesh, grid.shape)
        method = self._stub.InferenceCost
        build = functools.partial(_at, args, grid, spellings=spellings)
        return self._pointwise(
            InferenceCost,
            method,
            conversions.inference_cost_request,
            conversions.inference_cost_from,
            build,
            grid,
            timeout_s,
        )

    def _training_cost(self, args: dict[str, Any], timeout_s: float | None) -> TrainingCost:
        grid = _broadcast(args, ("tokens",))
        method = self._stub.TrainingCost
        build = functools.partial(_at, args, grid)
        return self._pointwise(
            TrainingCost,
            method,
            conversions.training_cost_request,
            conversions.training_cost_from,
            build,
            grid,
            timeout_s,
        )

    def _pointwise(
        self,
        cls: type[_D],
        method: Any,
        build: Callable[..., Any],
        convert: Callable[[Any], _D],
        build_args: Callable[[int], dict[str, Any]],
        grid: Broadcast,
        timeout_s: float | None,
    ) -> _D:
        """A unary RPC at every point of a broadcast ``grid`` of its arguments, one call each
        (``build`` makes a point's request, ``convert`` reads its ``cost``), as the façade's one
        result (arrays shaped like the grid; scalars for scalars)."""
        requests = [build(**build_args(i)) for i in range(_point_count(grid))]
        results: list[_D] = self._many(method, requests, timeout_s, lambda r: convert(r.cost))
        return results[0] if grid.scalar else _stacked(cls, results, grid.shape)

    def _iter_inference_cost_sweep(
        self, args: dict[str, Any], timeout_s: float | None
    ) -> Generator[sweep.SweepChunk]:
        """The sweep's chunks as they arrive (the grid checked before the call, as the façade
        checks it before pricing)."""
        serving = serving_value(args.pop("serving"))
        grid = sweep.Grid.of({**args, "batch": serving.batch})
        request = conversions.inference_cost_sweep_request(
            args.pop("model"),
            args.pop("hardware"),
            {name: grid.axes.get(name) for name in ("prompt_tokens", "gen_tokens", "samples")},
            attention=attention_choices(args["attention"]),
            serving=serving,
            chunk_points=_chunk_points(args.pop("chunk_size")),
            streams=args.pop("streams", 1),
        )
        messages = self._stream(
            self._stub.InferenceCostSweep, request, timeout_s, lambda m: len(m.costs.total_flops)
        )
        return (
            sweep.SweepChunk(
                m.start_index,
                m.total_points,
                grid.shape,
                grid.points(m.start_index, m.start_index + len(m.costs.total_flops)),
                InferenceCost(**conversions.inference_cost_from_columns(m.costs)),
            )
            for m in messages
        )

    def _inference_cost_sweep(self, args: dict[str, Any], timeout_s: float | None) -> InferenceCost:
        return sweep.join_chunks(self._iter_inference_cost_sweep(args, timeout_s))

    # ---- planners: one goal per call, or a frontier's stream of chunks ----

    def _plan_training(self, args: dict[str, Any], timeout_s: float | None) -> TrainingPlan:
        request = conversions.plan_training_request(**_scalars(args))
        response = self._unary(self._stub.PlanTraining, request, timeout_s)
        return conversions.training_plan_from(response.plan)

    def _plan_lifetime(self, args: dict[str, Any], timeout_s: float | None) -> LifetimePlan:
        request = conversions.plan_lifetime_request(**_scalars(args))
        response = self._unary(self._stub.PlanLifetime, request, timeout_s)
        return conversions.lifetime_plan_from(response.plan)

    def _plan_test_time(self, args: dict[str, Any], timeout_s: float | None) -> TestTimePlan:
        args = _scalars(args)
        budgets = {name: args.pop(name) for name in conversions.TEST_TIME_BUDGETS}
        request = conversions.plan_test_time_request(budgets, **args)
        response = self._unary(self._stub.PlanTestTime, request, timeout_s)
        return conversions.test_time_plan_from(response.plan)

    def _frontier_test_time(
        self, args: dict[str, Any], timeout_s: float | None
    ) -> TestTimeFrontier:
        budgets = _values("budgets", args.pop("budgets"))
        unit, chunk = args.pop("unit"), _chunk_points(args.pop("chunk_size"))
        request = conversions.frontier_test_time_request(budgets, unit, chunk, **_scalars(args))
        accuracy = args.get("accuracy")
        if isinstance(accuracy, AccuracyFit) and accuracy.bootstrap > 0:
            # The stream plans a fit's point accuracy only; a silent point frontier where the
            # local call gives bands would be a different answer to the same call.
            raise InvalidArgumentError(
                "accuracy: the FrontierTestTime stream plans a fit's point accuracy, without the "
                "bands its bootstrap samples give locally; pass accuracy=fit.accuracy for the "
                "point frontier, or plan_test_time per budget for the bands",
                field="accuracy",
            )
        parts = []
        for message in self._stream(
            self._stub.FrontierTestTime, request, timeout_s, lambda m: len(m.plan.budget)
        ):
            plan = TestTimePlan(**conversions.test_time_plan_from_columns(message.plan))
            per_model = {c.model: np.array(c.accuracy, dtype=np.float64) for c in message.per_model}
            oracle = None if plan.oracle_accuracy is None else np.asarray(plan.oracle_accuracy)
            parts.append(TestTimeFrontier(np.asarray(plan.budget), plan, per_model, oracle))
        return TestTimeFrontier.join(parts)

    def _plan_joint(self, args: dict[str, Any], timeout_s: float | None) -> JointPlan:
        budget = args["budget"]
        if np.ndim(budget) == 1 and args["target_accuracy"] is None:  # a frontier, streamed
            options = {k: v for k, v in args.items() if k not in ("budget", "target_accuracy")}
            return self._frontier_joint({**options, "budgets": budget, "chunk_size": 0}, timeout_s)
        request = conversions.plan_joint_request(**_scalars(args))
        response = self._unary(self._stub.PlanJoint, request, timeout_s)
        return conversions.joint_plan_from(response.plan)

    def _frontier_joint(self, args: dict[str, Any], timeout_s: float | None) -> JointPlan:
        budgets = _values("budgets", args.pop("budgets"))
        chunk = _chunk_points(args.pop("chunk_size"))
        request = conversions.frontier_joint_request(budgets, chunk, **_scalars(args))
        messages = self._stream(
            self._stub.FrontierJoint, request, timeout_s, lambda m: len(m.plan.total_cost)
        )
        return JointPlan.join(
            [JointPlan(**conversions.joint_plan_from_columns(m.plan)) for m in messages]
        )

    def _fit_law(self, args: dict[str, Any], timeout_s: float | None) -> LawFit:
        request = conversions.fit_law_request(**args, level=None)
        response = self._unary(self._stub.FitLaw, request, timeout_s)
        settings = {k: args[k] for k in ("delta", "bootstrap", "seed", "form", "unique_tokens")}
        return conversions.law_fit_from(response, **settings)

    def _fit_accuracy(self, args: dict[str, Any], timeout_s: float | None) -> AccuracyFit:
        # Files are read here (errors name their row); the server fits the rows.
        request = conversions.fit_accuracy_request(
            args["rows"], bootstrap=args["bootstrap"], seed=args["seed"], name=args["name"]
        )
        response = self._unary(self._stub.FitAccuracy, request, timeout_s)
        return conversions.accuracy_fit_from(response.fit)

    def _plan_rag(self, args: dict[str, Any], timeout_s: float | None) -> RagPlan:
        request = conversions.plan_rag_request(**_scalars(args))
        response = self._unary(self._stub.PlanRag, request, timeout_s)
        return conversions.rag_plan_from(response.plan)

    def _fit_rag(self, args: dict[str, Any], timeout_s: float | None) -> RagFit:
        # Files are read here; the server gets the rows.
        request = conversions.fit_rag_request(rag_rows(args["rows"]), args["base"], args["name"])
        response = self._unary(self._stub.FitRag, request, timeout_s)
        return conversions.rag_fit_from(response)

    def _calibrate(self, args: dict[str, Any], timeout_s: float | None) -> Calibration:
        # Files are read here; the server gets the runs (and prices on its own catalog).
        runs = runs_of(args["rows"])
        model = args["model"]
        request = conversions.calibrate_request(
            runs,
            args["hardware"],
            model.name if isinstance(model, Model) else model,
            args["name"],
            args["bootstrap"],
            args["seed"],
        )
        response = self._unary(self._stub.Calibrate, request, timeout_s)
        return conversions.calibration_from(response, runs)

    # Parallel streams (ParScale).
    def _plan_parscale(self, args: dict[str, Any], timeout_s: float | None) -> ParScalePlan:
        streams = args.get("streams")
        args = _scalars({k: v for k, v in args.items() if k != "streams"})
        request = conversions.plan_parscale_request(**args, streams=streams)
        response = self._unary(self._stub.PlanParScale, request, timeout_s)
        return conversions.parscale_plan_from(response.plan)

    def _plan_agent(self, args: dict[str, Any], timeout_s: float | None) -> AgentPlan:
        # The table is read and checked here; the server prices it on its own catalog.
        request = conversions.plan_agent_request(**args)
        response = self._unary(self._stub.PlanAgent, request, timeout_s)
        return conversions.agent_plan_from(response.plan)


_WINDOW = 256
"""Unary calls in flight at a time when an array argument is priced point by point."""
MAX_POINTS = 65_536
"""Most points of one broadcast call that the client prices point by point (arrays that are no
open mesh); more is a LimitExceededError: use inference_cost_sweep."""

# Arguments that are sequences in the façade itself (not broadcast numbers).
_SEQUENCES = frozenset(
    {"models", "attention", "budgets", "accuracy", "params", "tokens", "loss", "quantiles"}
)


def _values(name: str, values: Any) -> list[float]:
    array = np.asarray(values)
    if array.ndim > 1 or array.dtype.kind not in "iuf":
        raise InvalidArgumentError(f"{name}: expected a sequence of numbers", field=name)
    return [float(v) for v in np.atleast_1d(array)]


def _chunk_points(chunk_size: object) -> int:
    """The chunk size a request carries: 0 (the server's choice) or a checked size."""
    return 0 if chunk_size == 0 else sweep.chunk_size_of(chunk_size)


def _broadcast(args: dict[str, Any], names: Sequence[str]) -> Broadcast:
    """The numeric arguments among ``names`` broadcast together (a batch mode is no number)."""
    return Broadcast(
        {n: args[n] for n in names if args.get(n) is not None and not isinstance(args[n], str)}
    )


def _point_count(grid: Broadcast) -> int:
    """The points of a broadcast priced one call each, at most MAX_POINTS."""
    total = grid.size()
    if total > MAX_POINTS:
        field = next(iter(grid.arrays))
        raise LimitExceededError(
            f"{field}: {total} points of arrays that share a dimension exceed the client's "
            f"limit of {MAX_POINTS} one-point calls; give the grid's axes to "
            "inference_cost_sweep (one stream)",
            field=field,
            limit=MAX_POINTS,
            got=total,
        )
    return total


def _at(
    args: dict[str, Any], grid: Broadcast, i: int, spellings: npt.NDArray[Any] | None = None
) -> dict[str, Any]:
    """The arguments of point ``i`` of the broadcast grid: each numeric one a float, the
    attention one spelling and the serving's batch one size."""
    point = {name: float(grid.required(name)[i]) for name in grid.arrays}
    out = {**args, **_unpriced(point, spellings)}
    if "batch" in out:
        out["serving"] = _with_batch(args["serving"], out.pop("batch"))
    return out


def _priced(args: dict[str, Any]) -> tuple[dict[str, Any], npt.NDArray[Any] | None]:
    """inference_cost's arguments with the broadcast ones as numbers: an array of attention
    spellings as their indices in the returned spellings, an array batch of the Serving as
    ``batch`` (docs/planning.md, "Serving options")."""
    out = dict(args)
    serving = out["serving"] = serving_value(args.get("serving"))
    if isinstance(serving.batch, np.ndarray):
        out["batch"] = serving.batch
    spellings = None
    given = args.get("attention", "dense")
    if is_attention(given):
        out["attention"] = str(attention(given))
    else:
        items = list(given) if isinstance(given, list | tuple) else np.asarray(given)
        shape = (len(items),) if isinstance(items, list) else items.shape
        choices = [str(a) for a in _attentions(items)]
        spellings = np.array(choices)
        out["attention"] = np.arange(len(choices), dtype=np.float64).reshape(shape)
    return out, spellings


def _attentions(value: Any) -> list[Any]:
    """Each element of an array of attentions, checked (an error names its index)."""
    items = value if isinstance(value, list) else list(np.asarray(value).reshape(-1))
    return [attention(v, "attention", i) for i, v in enumerate(items)]


def _unpriced(point: dict[str, Any], spellings: npt.NDArray[Any] | None) -> dict[str, Any]:
    """Numbers of :func:`_priced` back as arguments: attention indices as spellings."""
    out = dict(point)
    if spellings is not None and "attention" in out:
        index = np.asarray(out["attention"]).astype(np.int64)
        out["attention"] = spellings[index].tolist() if index.ndim else str(spellings[index])
    return out


def _with_batch(serving: Serving, batch: Any) -> Serving:
    """``serving`` with its batch sizes replaced by ``batch`` (None: as it is)."""
    if batch is None:
        return serving
    value = float(batch) if np.ndim(batch) == 0 else np.asarray(batch, dtype=np.float64)
    return dataclasses.replace(serving, batch=value)


def _stacked(cls: type[_D], results: Sequence[Any], shape: tuple[int, ...]) -> _D:
    """Results of single points as one result of arrays of ``shape``, as the façade gives."""
    columns: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        values = [getattr(r, f.name) for r in results]
        columns[f.name] = None if values[0] is None else np.array(values).reshape(shape)
    return cls(**columns)


def _open_mesh(grid: Broadcast) -> dict[str, tuple[int, FloatArray]] | None:
    """The arrays of a broadcast that each vary along one dimension of their own (an open mesh,
    as ``np.ix_`` makes): (dimension, values) by argument; None when two share a dimension or
    one varies along two (then the broadcast is no cartesian product)."""
    mesh: dict[str, tuple[int, FloatArray]] = {}
    for name, array in grid.arrays.items():
        shape = (1,) * (len(grid.shape) - array.ndim) + array.shape
        dims = [k for k, n in enumerate(shape) if n > 1]
        if len(dims) > 1 or (dims and any(d == dims[0] for d, _ in mesh.values())):
            return None
        if dims:
            mesh[name] = (dims[0], array.reshape(-1))
    return mesh


def _from_mesh(
    cost: InferenceCost, mesh: dict[str, tuple[int, FloatArray]], shape: tuple[int, ...]
) -> InferenceCost:
    """A sweep over the axes of ``mesh`` (in SWEEP_AXES order) as the broadcast of ``shape``."""
    names = [name for name in sweep.SWEEP_AXES if name in mesh]
    lengths = [len(mesh[name][1]) for name in names]
    order = sorted(range(len(names)), key=lambda i: mesh[names[i]][0])
    return InferenceCost(
        **{
            f.name: np.reshape(getattr(cost, f.name), lengths).transpose(order).reshape(shape)
            for f in dataclasses.fields(cost)
        }
    )


def _scalars(args: dict[str, Any]) -> dict[str, Any]:
    """A planner's arguments with numpy scalars as floats; an array where the façade would
    broadcast one is refused naming it (one goal per call; frontiers take arrays)."""
    out = dict(args)
    for name, value in args.items():
        if name in _SEQUENCES or value is None or isinstance(value, str | LossLaw | Accuracy):
            continue
        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
            out[name] = value.item()
        elif isinstance(value, list | tuple | np.ndarray) and _numeric(value):
            raise InvalidArgumentError(
                f"{name}: the client plans one value per call, got {np.shape(value)} values; "
                "call once per value, or use a frontier (frontier_test_time, frontier_joint)",
                field=name,
            )
    return out


def _numeric(value: Any) -> bool:
    """Whether ``value`` is an array of numbers (not a list of models or names)."""
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except (TypeError, ValueError):
        return False
