"""A small typed client of the gRPC planning service, for scripts.

Methods mirror the Python API (same argument names and defaults) and return the same
dataclasses, priced by the server's catalog (so models, hardware and families are given by name;
a law by name or as a LossLaw; test-time accuracy by preset name, an Accuracy.preset, or measured
eval rows as mappings or a pathlib.Path of their file). Goals are scalars; frontiers take arrays of
budgets and arrive as streams of chunks. A call the server refuses as invalid raises the
:mod:`scaleplan.errors` class the Python API raises, with ``.field`` the Python argument name;
any other failure raises the ``grpc.RpcError``::

    with scaleplan.Client("127.0.0.1:50051") as client:
        cost = client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192)
        plan = client.plan_test_time(budget_eflops=1e15)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import grpc
import numpy as np
import numpy.typing as npt
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_status import rpc_status

from scaleplan.catalog import Family, Hardware, Model
from scaleplan.cost import Attention, Dtype, InferenceCost, Prefill, TimeModel, TrainingCost
from scaleplan.errors import (
    InvalidArgumentError,
    LimitExceededError,
    ScaleplanError,
    UnknownNameError,
)
from scaleplan.fit import LawFit
from scaleplan.grpc import conversions
from scaleplan.joint import JointPlan
from scaleplan.laws import DEFAULT_LAW, LossLaw
from scaleplan.plan import LifetimePlan, TrainingPlan, Unit
from scaleplan.testtime import Accuracy, AttentionChoice, TestTimeFrontier, TestTimePlan
from scaleplan.v1 import planner_pb2 as pb
from scaleplan.v1 import planner_pb2_grpc

Values = Sequence[float] | npt.ArrayLike
AccuracySource = str | Accuracy | os.PathLike[str] | Sequence[Mapping[str, Any]]

__all__ = ["Client", "IncompleteStreamError", "SweepChunk"]


class IncompleteStreamError(ScaleplanError):
    """A sweep stream ended early or out of order."""


@dataclass(frozen=True)
class SweepChunk:
    """One streamed chunk of a sweep: grid points [start_index, start_index + len)."""

    start_index: int
    total_points: int
    cost: InferenceCost
    """1-D arrays, one entry per point of the chunk, in grid order."""


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def _values(name: str, values: Values) -> list[float]:
    array = np.asarray(values)
    if array.ndim > 1 or array.dtype.kind not in "iuf":
        raise InvalidArgumentError(f"{name}: expected a sequence of numbers", field=name)
    return [float(v) for v in np.atleast_1d(array)]


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


class Client:
    """A connection to ``scaleplan serve`` at ``target`` (``host:port``).

    ``tls_ca`` (PEM file) switches to TLS and is the CA that signed the server's certificate;
    ``tls_cert``/``tls_key`` add a client certificate (mutual TLS); ``token`` is sent as
    ``authorization: Bearer <token>``. ``timeout_s`` is each call's deadline (a whole sweep
    stream's for sweeps) unless the call gives its own.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        timeout_s: float = 30.0,
        max_message_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        options = [("grpc.max_receive_message_length", max_message_bytes)]
        if tls_ca is not None or tls_cert is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca),
                private_key=_read(tls_key),
                certificate_chain=_read(tls_cert),
            )
            self._channel = grpc.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._stub = planner_pb2_grpc.PlannerServiceStub(self._channel)
        self._health_check = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s

    def close(self) -> None:
        self._channel.close()

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
        """Names of the server's hardware, models, families, laws and test-time accuracy presets,
        keyed as ``scaleplan.catalog()`` keys them."""
        response = self._unary(self._stub.ListCatalog, pb.ListCatalogRequest(), timeout_s)
        return {
            "hardware": [h.name for h in response.hardware],
            "models": [m.name for m in response.models],
            "families": [f.name for f in response.families],
            "laws": [law.name for law in response.laws],
            "accuracy": [a.name for a in response.accuracy_presets],
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

    # ---- cost ----

    def inference_cost(
        self,
        model: str | Model,
        hardware: str,
        *,
        prompt_tokens: float,
        gen_tokens: float,
        samples: float = 1,
        attention: Attention = "dense",
        kv_budget: float | None = None,
        block_size: float | None = None,
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        batch: Literal["max"] | float | None = None,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int = 1,
        timeout_s: float | None = None,
    ) -> InferenceCost:
        """:func:`scaleplan.inference_cost` of one configuration (scalars), on the server."""
        request = conversions.inference_cost_request(
            model,
            hardware,
            prompt_tokens=prompt_tokens,
            gen_tokens=gen_tokens,
            samples=samples,
            attention=attention,
            kv_budget=kv_budget,
            block_size=block_size,
            prefix_sharing=prefix_sharing,
            prefill=prefill,
            batch=batch,
            time_model=time_model,
            weight_dtype=weight_dtype,
            kv_dtype=kv_dtype,
            compute_dtype=compute_dtype,
            gpus=gpus,
        )
        response = self._unary(self._stub.InferenceCost, request, timeout_s)
        return conversions.inference_cost_from(response.cost)

    def iter_inference_cost_sweep(
        self,
        model: str | Model,
        hardware: str,
        *,
        prompt_tokens: Values,
        gen_tokens: Values,
        samples: Values = (1,),
        attention: Attention = "dense",
        kv_budget: Values | None = None,
        block_size: Values | None = None,
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        batch: Literal["max"] | Values | None = None,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int = 1,
        chunk_points: int = 0,
        timeout_s: float | None = None,
    ) -> Generator[SweepChunk]:
        """The chunks of a sweep as they arrive, checked to be in order and complete.

        The grid is the cartesian product of the axes prompt_tokens, gen_tokens, samples,
        kv_budget, block_size and batch (those given), the last varying fastest."""
        axes: dict[str, Any] = {
            "prompt_tokens": _values("prompt_tokens", prompt_tokens),
            "gen_tokens": _values("gen_tokens", gen_tokens),
            "samples": _values("samples", samples),
            "kv_budget": None if kv_budget is None else _values("kv_budget", kv_budget),
            "block_size": None if block_size is None else _values("block_size", block_size),
            "batch": None if batch is None or isinstance(batch, str) else _values("batch", batch),
        }
        mode = batch if isinstance(batch, str) else ("fixed" if batch is not None else None)
        request = conversions.inference_cost_sweep_request(
            model,
            hardware,
            axes,
            attention=attention,
            prefix_sharing=prefix_sharing,
            prefill=prefill,
            batch_mode=mode,
            time_model=time_model,
            weight_dtype=weight_dtype,
            kv_dtype=kv_dtype,
            compute_dtype=compute_dtype,
            gpus=gpus,
            chunk_points=chunk_points,
        )
        messages = self._stream(
            self._stub.InferenceCostSweep, request, timeout_s, lambda m: len(m.costs.total_flops)
        )
        for message in messages:
            columns = conversions.inference_cost_from_columns(message.costs)
            yield SweepChunk(message.start_index, message.total_points, InferenceCost(**columns))

    def inference_cost_sweep(
        self,
        model: str | Model,
        hardware: str,
        *,
        prompt_tokens: Values,
        gen_tokens: Values,
        samples: Values = (1,),
        attention: Attention = "dense",
        kv_budget: Values | None = None,
        block_size: Values | None = None,
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        batch: Literal["max"] | Values | None = None,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int = 1,
        chunk_points: int = 0,
        timeout_s: float | None = None,
    ) -> InferenceCost:
        """The whole sweep as one InferenceCost of arrays shaped like the grid: one axis each for
        prompt_tokens, gen_tokens and samples, then for kv_budget, block_size and batch when
        they are given as sequences. Equal to :func:`scaleplan.inference_cost` on the same
        grid (open-mesh arrays)."""
        chunks = list(
            self.iter_inference_cost_sweep(
                model,
                hardware,
                prompt_tokens=prompt_tokens,
                gen_tokens=gen_tokens,
                samples=samples,
                attention=attention,
                kv_budget=kv_budget,
                block_size=block_size,
                prefix_sharing=prefix_sharing,
                prefill=prefill,
                batch=batch,
                time_model=time_model,
                weight_dtype=weight_dtype,
                kv_dtype=kv_dtype,
                compute_dtype=compute_dtype,
                gpus=gpus,
                chunk_points=chunk_points,
                timeout_s=timeout_s,
            )
        )
        shape: list[int] = []
        for name, axis in (
            ("prompt_tokens", prompt_tokens),
            ("gen_tokens", gen_tokens),
            ("samples", samples),
            ("kv_budget", kv_budget),
            ("block_size", block_size),
            ("batch", batch),
        ):
            if axis is not None and not isinstance(axis, str):
                shape.append(len(_values(name, axis)))
        fields: dict[str, Any] = {}
        for name in InferenceCost.__dataclass_fields__:
            fields[name] = np.concatenate([getattr(c.cost, name) for c in chunks]).reshape(shape)
        return InferenceCost(**fields)

    def training_cost(
        self,
        model: str | Model,
        tokens: float,
        hardware: str,
        *,
        gpus: int = 1,
        mfu: float | None = None,
        seq_len: float | None = None,
        compute_dtype: Dtype = "bf16",
        timeout_s: float | None = None,
    ) -> TrainingCost:
        """:func:`scaleplan.training_cost` of one run (scalars), on the server."""
        request = conversions.training_cost_request(
            model,
            tokens,
            hardware,
            gpus=gpus,
            mfu=mfu,
            seq_len=seq_len,
            compute_dtype=compute_dtype,
        )
        response = self._unary(self._stub.TrainingCost, request, timeout_s)
        return conversions.training_cost_from(response.cost)

    # ---- planners ----

    def plan_training(
        self,
        *,
        budget_flops: float | None = None,
        target_loss: float | None = None,
        law: str | LossLaw = DEFAULT_LAW,
        unique_tokens: float | None = None,
        r_star: float | None = None,
        timeout_s: float | None = None,
    ) -> TrainingPlan:
        """:func:`scaleplan.plan_training` of one goal, on the server."""
        request = conversions.plan_training_request(
            budget_flops=budget_flops,
            target_loss=target_loss,
            law=law,
            unique_tokens=unique_tokens,
            r_star=r_star,
        )
        response = self._unary(self._stub.PlanTraining, request, timeout_s)
        return conversions.training_plan_from(response.plan)

    def fit_law(
        self,
        params: Any,
        tokens: Any,
        loss: Any,
        *,
        form: str = "chinchilla",
        delta: float = 1e-3,
        bootstrap: int = 0,
        seed: int = 0,
        unique_tokens: float | None = None,
        timeout_s: float | None = None,
    ) -> LawFit:
        """:func:`scaleplan.fit_law` on the server (the same LawFit, samples included)."""
        request = conversions.fit_law_request(
            params,
            tokens,
            loss,
            form=form,
            delta=delta,
            bootstrap=bootstrap,
            seed=seed,
            unique_tokens=unique_tokens,
            level=None,
        )
        response = self._unary(self._stub.FitLaw, request, timeout_s)
        return conversions.law_fit_from(
            response,
            delta=delta,
            bootstrap=bootstrap,
            seed=seed,
            form=form,
            unique_tokens=unique_tokens,
        )

    def plan_lifetime(
        self,
        *,
        target_loss: float | None = None,
        budget: float | None = None,
        queries: float,
        prompt_tokens: float,
        gen_tokens: float,
        samples: float = 1,
        law: str | LossLaw = DEFAULT_LAW,
        hardware: str | None = None,
        family: str | Sequence[Model] | None = None,
        unit: Unit = "flops",
        attention: Attention = "dense",
        kv_budget: float | None = None,
        block_size: float | None = None,
        batch: Literal["max"] | float | None = None,
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int | None = None,
        train_hardware: str | None = None,
        train_mfu: float | None = None,
        train_usd_per_hour: float | None = None,
        infer_usd_per_hour: float | None = None,
        unique_tokens: float | None = None,
        r_star: float | None = None,
        min_params: float | None = None,
        max_params: float | None = None,
        timeout_s: float | None = None,
    ) -> LifetimePlan:
        """:func:`scaleplan.plan_lifetime` of one goal (scalars), on the server."""
        request = conversions.plan_lifetime_request(
            target_loss=target_loss,
            budget=budget,
            law=law,
            unit=unit,
            attention=attention,
            serving=_serving(
                batch,
                prefix_sharing,
                prefill,
                time_model,
                weight_dtype,
                kv_dtype,
                compute_dtype,
                gpus,
            ),
            queries=queries,
            prompt_tokens=prompt_tokens,
            gen_tokens=gen_tokens,
            samples=samples,
            hardware=hardware,
            family=family,
            kv_budget=kv_budget,
            block_size=block_size,
            train_hardware=train_hardware,
            train_mfu=train_mfu,
            train_usd_per_hour=train_usd_per_hour,
            infer_usd_per_hour=infer_usd_per_hour,
            unique_tokens=unique_tokens,
            r_star=r_star,
            min_params=min_params,
            max_params=max_params,
        )
        response = self._unary(self._stub.PlanLifetime, request, timeout_s)
        return conversions.lifetime_plan_from(response.plan)

    def plan_test_time(
        self,
        *,
        budget_eflops: float | None = None,
        budget_seconds: float | None = None,
        budget_usd: float | None = None,
        budget_flops: float | None = None,
        models: Sequence[str | Model] | str | Model | None = None,
        family: str | None = None,
        hardware: str = "kinetics-b200",
        prompt_tokens: float = 128,
        accuracy: AccuracySource = "aime24-qwen3",
        k_max: int = 64,
        attention: Sequence[AttentionChoice] = ("dense",),
        latency_slo_s: float | None = None,
        min_gen_tokens: float = 256,
        max_gen_tokens: float | None = 32768,
        usd_per_hour: float | None = None,
        batch: Literal["max"] | float | None = None,
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int = 1,
        timeout_s: float | None = None,
    ) -> TestTimePlan:
        """:func:`scaleplan.plan_test_time` of one per-query budget, on the server."""
        request = conversions.plan_test_time_request(
            {
                "budget_eflops": budget_eflops,
                "budget_seconds": budget_seconds,
                "budget_usd": budget_usd,
                "budget_flops": budget_flops,
            },
            accuracy=accuracy,
            attention=attention,
            serving=_serving(
                batch,
                prefix_sharing,
                prefill,
                time_model,
                weight_dtype,
                kv_dtype,
                compute_dtype,
                gpus,
            ),
            models=models,
            family=family,
            hardware=hardware,
            prompt_tokens=prompt_tokens,
            k_max=k_max,
            latency_slo_s=latency_slo_s,
            min_gen_tokens=min_gen_tokens,
            max_gen_tokens=max_gen_tokens,
            usd_per_hour=usd_per_hour,
        )
        response = self._unary(self._stub.PlanTestTime, request, timeout_s)
        return conversions.test_time_plan_from(response.plan)

    def frontier_test_time(
        self,
        *,
        budgets: Values,
        unit: Literal["flops", "eflops", "seconds", "usd"] = "eflops",
        models: Sequence[str | Model] | str | Model | None = None,
        family: str | None = None,
        hardware: str = "kinetics-b200",
        prompt_tokens: float = 128,
        accuracy: AccuracySource = "aime24-qwen3",
        k_max: int = 64,
        attention: Sequence[AttentionChoice] = ("dense",),
        latency_slo_s: float | None = None,
        min_gen_tokens: float = 256,
        max_gen_tokens: float | None = 32768,
        usd_per_hour: float | None = None,
        batch: Literal["max"] | float | None = None,
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int = 1,
        chunk_points: int = 0,
        timeout_s: float | None = None,
    ) -> TestTimeFrontier:
        """:func:`scaleplan.frontier_test_time` on the server, streamed in chunks of budgets
        (``chunk_points`` per message, 0: the server's choice); ``timeout_s`` is the whole
        stream's deadline."""
        request = conversions.frontier_test_time_request(
            _values("budgets", budgets),
            unit,
            chunk_points,
            accuracy=accuracy,
            attention=attention,
            serving=_serving(
                batch,
                prefix_sharing,
                prefill,
                time_model,
                weight_dtype,
                kv_dtype,
                compute_dtype,
                gpus,
            ),
            models=models,
            family=family,
            hardware=hardware,
            prompt_tokens=prompt_tokens,
            k_max=k_max,
            latency_slo_s=latency_slo_s,
            min_gen_tokens=min_gen_tokens,
            max_gen_tokens=max_gen_tokens,
            usd_per_hour=usd_per_hour,
        )
        columns, curves = [], []
        for message in self._stream(
            self._stub.FrontierTestTime, request, timeout_s, lambda m: len(m.plan.budget)
        ):
            columns.append(conversions.test_time_plan_from_columns(message.plan))
            curves.append(
                {c.model: np.array(c.accuracy, dtype=np.float64) for c in message.per_model}
            )
        plan = TestTimePlan(**conversions.concat_columns(columns))
        per_model = {name: np.concatenate([c[name] for c in curves]) for name in curves[0]}
        oracle = None if plan.oracle_accuracy is None else np.asarray(plan.oracle_accuracy)
        return TestTimeFrontier(
            budgets=np.asarray(plan.budget), plan=plan, per_model=per_model, oracle=oracle
        )

    def plan_joint(
        self,
        *,
        budget: float | None = None,
        target_accuracy: float | None = None,
        queries: float,
        prompt_tokens: float = 128,
        family: str | Sequence[Model] = "qwen3-dense",
        hardware: str = "h100-sxm",
        law: str | LossLaw = DEFAULT_LAW,
        unit: Unit = "gpu_hours",
        half_tokens: float = 4096,
        hill: float = 1.5,
        kappa: float = 1.0,
        k_max: int = 16,
        attention: Sequence[AttentionChoice] = ("dense",),
        min_gen_tokens: float = 256,
        max_gen_tokens: float = 32768,
        min_params: float | None = None,
        max_params: float | None = None,
        latency_slo_s: float | None = None,
        unique_tokens: float | None = None,
        r_star: float | None = None,
        train_mfu: float | None = None,
        train_usd_per_hour: float | None = None,
        infer_usd_per_hour: float | None = None,
        batch: Literal["max"] | float | None = "max",
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int | None = None,
        timeout_s: float | None = None,
    ) -> JointPlan:
        """:func:`scaleplan.plan_joint` of one goal, on the server."""
        options = {k: v for k, v in locals().items() if k in _JOINT_ARGS}
        request = conversions.plan_joint_request(
            budget=budget, target_accuracy=target_accuracy, **_joint_options(options)
        )
        response = self._unary(self._stub.PlanJoint, request, timeout_s)
        return conversions.joint_plan_from(response.plan)

    def frontier_joint(
        self,
        *,
        budgets: Values,
        queries: float,
        prompt_tokens: float = 128,
        family: str | Sequence[Model] = "qwen3-dense",
        hardware: str = "h100-sxm",
        law: str | LossLaw = DEFAULT_LAW,
        unit: Unit = "gpu_hours",
        half_tokens: float = 4096,
        hill: float = 1.5,
        kappa: float = 1.0,
        k_max: int = 16,
        attention: Sequence[AttentionChoice] = ("dense",),
        min_gen_tokens: float = 256,
        max_gen_tokens: float = 32768,
        min_params: float | None = None,
        max_params: float | None = None,
        latency_slo_s: float | None = None,
        unique_tokens: float | None = None,
        r_star: float | None = None,
        train_mfu: float | None = None,
        train_usd_per_hour: float | None = None,
        infer_usd_per_hour: float | None = None,
        batch: Literal["max"] | float | None = "max",
        prefix_sharing: bool = True,
        prefill: Prefill = True,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int | None = None,
        chunk_points: int = 0,
        timeout_s: float | None = None,
    ) -> JointPlan:
        """:func:`scaleplan.frontier_joint` on the server (a JointPlan of 1-D arrays), streamed
        in chunks of budgets (``chunk_points`` per message, 0: the server's choice);
        ``timeout_s`` is the whole stream's deadline."""
        options = {k: v for k, v in locals().items() if k in _JOINT_ARGS}
        request = conversions.frontier_joint_request(
            _values("budgets", budgets), chunk_points, **_joint_options(options)
        )
        columns = [
            conversions.joint_plan_from_columns(message.plan)
            for message in self._stream(
                self._stub.FrontierJoint, request, timeout_s, lambda m: len(m.plan.total_cost)
            )
        ]
        return JointPlan(**conversions.concat_columns(columns))


_SERVING_ARGS = (
    "batch",
    "prefix_sharing",
    "prefill",
    "time_model",
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
    "gpus",
)
# plan_joint's options (its arguments but the goal, the catalog and the call's own).
_JOINT_ARGS = frozenset(
    (
        "queries",
        "prompt_tokens",
        "family",
        "hardware",
        "law",
        "unit",
        "half_tokens",
        "hill",
        "kappa",
        "k_max",
        "attention",
        "min_gen_tokens",
        "max_gen_tokens",
        "min_params",
        "max_params",
        "latency_slo_s",
        "unique_tokens",
        "r_star",
        "train_mfu",
        "train_usd_per_hour",
        "infer_usd_per_hour",
        *_SERVING_ARGS,
    )
)


def _serving(*values: Any) -> dict[str, Any]:
    return dict(zip(_SERVING_ARGS, values, strict=True))


def _joint_options(options: dict[str, Any]) -> dict[str, Any]:
    serving = {name: options.pop(name) for name in _SERVING_ARGS}
    return {**options, "serving": serving}
