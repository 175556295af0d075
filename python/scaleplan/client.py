"""A small typed client of the gRPC planning service, for scripts.

Methods mirror the Python API (same argument names and defaults) and return the same
dataclasses, priced by the server's catalog (so models and hardware are given by name). A call
the server refuses as invalid raises the :mod:`scaleplan.errors` class the Python API raises,
with ``.field`` the Python argument name; any other failure raises the ``grpc.RpcError``::

    with scaleplan.Client("127.0.0.1:50051") as client:
        cost = client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192)
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
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

from scaleplan import _wire
from scaleplan.catalog import Family, Hardware, Model
from scaleplan.cost import Attention, Dtype, InferenceCost, TimeModel, TrainingCost
from scaleplan.errors import (
    InvalidArgumentError,
    LimitExceededError,
    ScaleplanError,
    UnknownNameError,
)
from scaleplan.v1 import planner_pb2 as pb
from scaleplan.v1 import planner_pb2_grpc

Values = Sequence[float] | npt.ArrayLike

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
        field, index = data.get("argument", ""), data.get("index")
        where = {"field": field, "index": int(index) if index is not None else None}
        if info.reason == "UNKNOWN_NAME":
            known = data.get("known", "")
            return UnknownNameError(status.message, kind=data.get("kind", ""),
                                    name=data.get("name", ""),
                                    known=known.split(",") if known else [], **where)  # fmt: skip
        if info.reason == "LIMIT_EXCEEDED":
            return LimitExceededError(status.message, limit=int(data.get("limit", 0)),
                                      got=int(data.get("got", 0)), **where)  # fmt: skip
        if info.reason == "INVALID_ARGUMENT":
            return InvalidArgumentError(status.message, **where)
    return exc


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
        """Names of the server's hardware, models and families (like ``scaleplan.catalog()``)."""
        response = self._unary(self._stub.ListCatalog, pb.ListCatalogRequest(), timeout_s)
        return {
            "hardware": [h.name for h in response.hardware],
            "models": [m.name for m in response.models],
            "families": [f.name for f in response.families],
        }

    def model(self, name: str, *, timeout_s: float | None = None) -> Model:
        response = self._unary(self._stub.GetModel, pb.GetModelRequest(name=name), timeout_s)
        return _wire.model_from(response.model)

    def hardware(self, name: str, *, timeout_s: float | None = None) -> Hardware:
        request = pb.GetHardwareRequest(name=name)
        response = self._unary(self._stub.GetHardware, request, timeout_s)
        return _wire.hardware_from(response.hardware)

    def family(self, name: str, *, timeout_s: float | None = None) -> Family:
        response = self._unary(self._stub.GetFamily, pb.GetFamilyRequest(name=name), timeout_s)
        return _wire.family_from(response.family)

    # ---- cost ----

    def inference_cost(
        self,
        model: str,
        hardware: str,
        *,
        prompt_tokens: float,
        gen_tokens: float,
        samples: float = 1,
        attention: Attention = "dense",
        kv_budget: float | None = None,
        block_size: float | None = None,
        prefix_sharing: bool = True,
        prefill: bool = True,
        batch: Literal["max"] | float | None = None,
        time_model: TimeModel = "additive",
        weight_dtype: Dtype = "bf16",
        kv_dtype: Dtype = "bf16",
        compute_dtype: Dtype = "bf16",
        gpus: int = 1,
        timeout_s: float | None = None,
    ) -> InferenceCost:
        """:func:`scaleplan.inference_cost` of one configuration (scalars), on the server."""
        request = _wire.inference_cost_request(
            model, hardware, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, samples=samples,
            attention=attention, kv_budget=kv_budget, block_size=block_size,
            prefix_sharing=prefix_sharing, prefill=prefill, batch=batch, time_model=time_model,
            weight_dtype=weight_dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, gpus=gpus,
        )  # fmt: skip
        response = self._unary(self._stub.InferenceCost, request, timeout_s)
        return _wire.inference_cost_from(response.cost)

    def iter_inference_cost_sweep(
        self,
        model: str,
        hardware: str,
        *,
        prompt_tokens: Values,
        gen_tokens: Values,
        samples: Values = (1,),
        attention: Attention = "dense",
        kv_budget: Values | None = None,
        block_size: Values | None = None,
        prefix_sharing: bool = True,
        prefill: bool = True,
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
        request = _wire.inference_cost_sweep_request(
            model, hardware, axes, attention=attention, prefix_sharing=prefix_sharing,
            prefill=prefill, batch_mode=mode, time_model=time_model, weight_dtype=weight_dtype,
            kv_dtype=kv_dtype, compute_dtype=compute_dtype, gpus=gpus, chunk_points=chunk_points,
        )  # fmt: skip
        stream = self._stub.InferenceCostSweep(
            request,
            timeout=self.timeout_s if timeout_s is None else timeout_s,
            metadata=self._metadata,
        )
        expected, total = 0, None
        try:
            for message in stream:
                if message.start_index != expected:
                    raise IncompleteStreamError(
                        f"sweep chunk starts at point {message.start_index}, expected {expected}",
                        field="start_index",
                    )
                columns = _wire.inference_cost_from_columns(message.costs)
                total = message.total_points
                expected += len(columns["flops"])
                yield SweepChunk(message.start_index, total, InferenceCost(**columns))
        except grpc.RpcError as exc:
            raise _error(exc) from exc
        finally:
            stream.cancel()  # no-op once the stream ended; stops the server if we stop early
        if total is None or expected != total:
            raise IncompleteStreamError(
                f"sweep stream ended after {expected} of {total} points", field="total_points"
            )

    def inference_cost_sweep(
        self,
        model: str,
        hardware: str,
        *,
        prompt_tokens: Values,
        gen_tokens: Values,
        samples: Values = (1,),
        attention: Attention = "dense",
        kv_budget: Values | None = None,
        block_size: Values | None = None,
        prefix_sharing: bool = True,
        prefill: bool = True,
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
                model, hardware, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens,
                samples=samples, attention=attention, kv_budget=kv_budget, block_size=block_size,
                prefix_sharing=prefix_sharing, prefill=prefill, batch=batch,
                time_model=time_model, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                compute_dtype=compute_dtype, gpus=gpus, chunk_points=chunk_points,
                timeout_s=timeout_s,
            )
        )  # fmt: skip
        shape: list[int] = []
        for name, axis in (("prompt_tokens", prompt_tokens), ("gen_tokens", gen_tokens),
                           ("samples", samples), ("kv_budget", kv_budget),
                           ("block_size", block_size), ("batch", batch)):  # fmt: skip
            if axis is not None and not isinstance(axis, str):
                shape.append(len(_values(name, axis)))
        fields: dict[str, Any] = {}
        for name in InferenceCost.__dataclass_fields__:
            fields[name] = np.concatenate([getattr(c.cost, name) for c in chunks]).reshape(shape)
        return InferenceCost(**fields)

    def training_cost(
        self,
        model: str,
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
        request = _wire.training_cost_request(
            model, tokens, hardware, gpus=gpus, mfu=mfu, seq_len=seq_len,
            compute_dtype=compute_dtype,
        )  # fmt: skip
        response = self._unary(self._stub.TrainingCost, request, timeout_s)
        return _wire.training_cost_from(response.cost)
