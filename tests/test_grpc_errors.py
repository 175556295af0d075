"""The error table: each scaleplan.errors class becomes its status code, with decoded
google.rpc.BadRequest / ErrorInfo details naming the request field; anything unexpected is
INTERNAL with nothing of it leaked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import scaleplan as sp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan import errors
from scaleplan.grpc.server import errors as server_errors
from scaleplan.grpc.server import service
from scaleplan.v1 import cost_pb2, planner_pb2


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(max_sweep_points=10_000) as s:
        yield s


def details(exc: grpc.RpcError) -> tuple[Any, error_details_pb2.BadRequest, Any]:
    """The status, its BadRequest and its ErrorInfo."""
    status = rpc_status.from_call(exc)
    assert status is not None
    bad, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
    assert [d.Unpack(m) for d, m in zip(status.details, (bad, info), strict=True)] == [True, True]
    return status, bad, info


def call_error(fn: Any, request: Any) -> grpc.RpcError:
    def call() -> None:
        result = fn(request, timeout=TIMEOUT_S)
        if not hasattr(result, "ByteSize"):  # a stream: read it
            list(result)

    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def cost_request(**fields: Any) -> planner_pb2.InferenceCostRequest:
    base: dict[str, Any] = {
        "model": "qwen3-8b",
        "hardware": "h100-sxm",
        "prompt_tokens": 128,
        "gen_tokens": 1024,
    }
    return planner_pb2.InferenceCostRequest(**{**base, **fields})


INVALID = [
    ({"gen_tokens": float("nan")}, "gen_tokens"),
    ({"prompt_tokens": -1}, "prompt_tokens"),
    ({"samples": 0}, "samples"),
    ({"samples": 2.5}, "samples"),
    ({"attention": {"attention": cost_pb2.ATTENTION_TOPK}}, "attention"),
    ({"attention": {"attention": cost_pb2.ATTENTION_TOPK, "kv_budget_tokens": 0}}, "attention"),
    (
        {"attention": {"attention": cost_pb2.ATTENTION_BLOCK_TOPK, "kv_budget_tokens": 64}},
        "attention",
    ),
    ({"attention": {"kv_budget_tokens": 64}}, "attention"),
    ({"attention": {"attention": 42}}, "attention"),
    ({"serving": {"batch_sequences": 2}, "samples": 4}, "serving.batch_sequences"),
    ({"serving": {"batch_mode": cost_pb2.BATCH_MODE_FIXED}}, "serving.batch_sequences"),
    (
        {"serving": {"batch_mode": cost_pb2.BATCH_MODE_MAX, "batch_sequences": 8}},
        "serving.batch_sequences",
    ),
    ({"serving": {"batch_mode": 42}}, "serving.batch_mode"),
    ({"serving": {"kv_dtype": 42}}, "serving.kv_dtype"),
    ({"serving": {"gpus": 0}}, "serving.gpus"),
    (
        {"serving": {"compute_dtype": cost_pb2.DTYPE_FP8}, "hardware": "a100-80gb"},
        "serving.compute_dtype",
    ),
    (
        {"serving": {"batch_mode": cost_pb2.BATCH_MODE_AMORTIZED, "prefill_mode": 2}},
        "serving.prefill_mode",
    ),
    ({"model": ""}, "model"),
]


@pytest.mark.parametrize(("fields", "path"), INVALID)
def test_invalid_argument_names_the_request_field(
    channel: grpc.Channel, fields: dict[str, Any], path: str
) -> None:
    exc = call_error(stub(channel).InferenceCost, cost_request(**fields))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    status, bad, info = details(exc)
    assert [v.field for v in bad.field_violations] == [path]
    assert bad.field_violations[0].description
    assert info.reason == "INVALID_ARGUMENT" and info.domain == "scaleplan"
    assert status.message == exc.details()


def test_training_cost_invalid(channel: grpc.Channel) -> None:
    request = planner_pb2.TrainingCostRequest(
        model="qwen3-8b", hardware="h100-sxm", tokens=1e9, seq_len_tokens=0
    )
    exc = call_error(stub(channel).TrainingCost, request)
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad, info = details(exc)
    assert bad.field_violations[0].field == "seq_len_tokens"
    assert info.metadata["argument"] == "seq_len"


def test_sweep_element_errors_name_the_axis_element(channel: grpc.Channel) -> None:
    request = planner_pb2.InferenceCostSweepRequest(model="qwen3-8b", hardware="h100-sxm")
    request.grid.prompt_tokens.extend([128, 256])
    request.grid.gen_tokens.extend([100, 200, float("nan"), 300])
    exc = call_error(stub(channel).InferenceCostSweep, request)
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    status, bad, info = details(exc)
    assert bad.field_violations[0].field == "grid.gen_tokens[2]"
    assert dict(info.metadata) == {"argument": "gen_tokens", "index": "2"}
    # The message is built from the same data: the request field, then the reason.
    assert status.message == "grid.gen_tokens[2]: must be finite, got NaN"
    assert bad.field_violations[0].description == "must be finite, got NaN"
    # A combination error names the element of the axis it is reported on.
    request = planner_pb2.InferenceCostSweepRequest(model="qwen3-8b", hardware="h100-sxm")
    request.grid.prompt_tokens.append(128)
    request.grid.gen_tokens.append(1024)
    request.grid.samples.extend([1, 4])
    request.grid.batch_sequences.extend([8, 2])
    _, bad, _ = details(call_error(stub(channel).InferenceCostSweep, request))
    assert bad.field_violations[0].field == "grid.batch_sequences[1]"
    # An empty required axis.
    request = planner_pb2.InferenceCostSweepRequest(model="qwen3-8b", hardware="h100-sxm")
    request.grid.prompt_tokens.append(128)
    _, bad, _ = details(call_error(stub(channel).InferenceCostSweep, request))
    assert bad.field_violations[0].field == "grid.gen_tokens"


def test_unknown_names_are_not_found(channel: grpc.Channel) -> None:
    for fn, request, path in [
        (stub(channel).GetModel, planner_pb2.GetModelRequest(name="qwen3-9b"), "name"),
        (stub(channel).GetHardware, planner_pb2.GetHardwareRequest(name="h100"), "name"),
        (stub(channel).GetFamily, planner_pb2.GetFamilyRequest(name="gpt"), "name"),
        (stub(channel).InferenceCost, cost_request(model="qwen3-9b"), "model"),
        (stub(channel).InferenceCost, cost_request(hardware="tpu"), "hardware"),
    ]:
        exc = call_error(fn, request)
        assert exc.code() == grpc.StatusCode.NOT_FOUND
        _, bad, info = details(exc)
        assert bad.field_violations[0].field == path
        assert info.reason == "UNKNOWN_NAME"
    assert "qwen3-8b" in info.metadata["known"].split(",") or info.metadata["kind"] == "hardware"


def test_oversized_sweep_is_refused_before_any_work(
    server: ServerThread, channel: grpc.Channel
) -> None:
    assert server.server is not None
    before = server.server.metrics.chunks("/scaleplan.v1.PlannerService/InferenceCostSweep")
    request = planner_pb2.InferenceCostSweepRequest(model="qwen3-8b", hardware="h100-sxm")
    request.grid.prompt_tokens.extend(range(101))
    request.grid.gen_tokens.extend(range(1, 101))
    exc = call_error(stub(channel).InferenceCostSweep, request)
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad, info = details(exc)
    assert bad.field_violations[0].field == "grid"
    assert info.reason == "LIMIT_EXCEEDED"
    assert (info.metadata["limit"], info.metadata["got"]) == ("10000", "10100")
    assert server.server.metrics.chunks("/scaleplan.v1.PlannerService/InferenceCostSweep") == before


def test_client_raises_the_python_api_exceptions(server: ServerThread) -> None:
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        with pytest.raises(errors.InvalidArgumentError) as info:
            client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=1, gen_tokens=0)
        assert info.value.field == "gen_tokens" and isinstance(info.value, ValueError)
        assert isinstance(info.value.__cause__, grpc.RpcError)
        with pytest.raises(errors.UnknownNameError) as unknown:
            client.model("qwen3-9b")
        assert unknown.value.name == "qwen3-9b" and "qwen3-8b" in unknown.value.known
        with pytest.raises(errors.LimitExceededError) as limit:
            client.inference_cost_sweep(
                "qwen3-8b", "h100-sxm", prompt_tokens=range(200), gen_tokens=range(1, 101)
            )
        assert (limit.value.limit, limit.value.got, limit.value.field) == (10_000, 20_000, "grid")
        with pytest.raises(errors.InvalidArgumentError) as sweep:
            client.inference_cost_sweep(
                "qwen3-8b", "h100-sxm", prompt_tokens=[1], gen_tokens=[1, 2], samples=[1, -3]
            )
        assert (sweep.value.field, sweep.value.index) == ("samples", 1)
        # Options the wire cannot carry are refused by the client, naming the argument.
        with pytest.raises(errors.InvalidArgumentError) as local:
            client.inference_cost(
                "qwen3-8b", "h100-sxm", prompt_tokens=1, gen_tokens=1, attention="sliding"
            )
        assert local.value.field == "attention"
        # A bad element of a list of attentions is named by its index, as data.
        with pytest.raises(errors.InvalidArgumentError) as local:
            client.inference_cost(
                "qwen3-8b",
                "h100-sxm",
                prompt_tokens=1,
                gen_tokens=1,
                attention=["topk:1024", "topk:many"],
            )
        assert (local.value.field, local.value.index) == ("attention", 1)
        assert str(local.value).startswith("element 1: attention: expected 'dense'")


@pytest.mark.parametrize(
    "raised",
    [
        RuntimeError("secret internals /etc/passwd"),
        errors.CatalogError(
            "bad file /srv/secret.toml", field="x", file="/srv/secret.toml", entry="e"
        ),
        errors.ScaleplanError("base class /srv/secret", field="x"),
    ],
)
def test_unexpected_errors_are_internal_and_logged(
    channel: grpc.Channel,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    raised: Exception,
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(service, "inference_cost", boom)
    caplog.set_level(logging.ERROR, logger="scaleplan.grpc.server")
    exc = call_error(stub(channel).InferenceCost, cost_request())
    assert exc.code() == grpc.StatusCode.INTERNAL
    message = exc.details()
    assert message.startswith("internal error (reference ") and "secret" not in message
    assert rpc_status.from_call(exc) is not None
    assert not rpc_status.from_call(exc).details
    reference = message.removeprefix("internal error (reference ").rstrip(")")
    records = [r for r in caplog.records if reference in r.getMessage()]
    assert records and records[0].exc_info is not None and records[0].exc_info[1] is raised


def test_table_order_never_shadows_an_entry() -> None:
    table = server_errors.TABLE
    for i, entry in enumerate(table):
        for earlier in table[:i]:
            assert not issubclass(entry.exception, earlier.exception), entry
    assert server_errors.mapping_for(errors.LimitExceededError("x", field="f", limit=1, got=2))
    assert server_errors.mapping_for(ValueError("x")) is None
    public = {e.exception: e.code for e in table if e.public}
    assert public[errors.InvalidArgumentError] == grpc.StatusCode.INVALID_ARGUMENT
    assert public[errors.UnknownNameError] == grpc.StatusCode.NOT_FOUND


def test_echoed_text_is_clipped(channel: grpc.Channel) -> None:
    """Issue 11 item 8: a 5,000-character name was echoed in full three times (message,
    description, metadata), so the status outgrew gRPC's 16 KiB metadata limit and the client
    got its own RESOURCE_EXHAUSTED instead of NOT_FOUND."""
    long_name = "x" * 5000
    for fn, request in [
        (stub(channel).GetModel, planner_pb2.GetModelRequest(name=long_name)),
        (stub(channel).InferenceCost, cost_request(model=long_name)),
        (stub(channel).GetLaw, planner_pb2.GetLawRequest(name=long_name)),
    ]:
        exc = call_error(fn, request)
        assert exc.code() == grpc.StatusCode.NOT_FOUND
        status, bad, info = details(exc)
        clipped = "x" * server_errors.MAX_ECHO_CHARS + "... (4936 more characters)"
        assert clipped in status.message and long_name[:100] not in status.message
        assert clipped in bad.field_violations[0].description
        assert info.metadata["name"] == clipped
        assert len(status.SerializeToString()) < 4096
    assert server_errors.clip("abc", 3) == "abc"
    assert server_errors.clip("abcd", 3) == "abc... (1 more characters)"


def test_every_echo_is_bounded() -> None:
    """Whatever the message, the status built from it stays small."""
    exc = errors.InvalidArgumentError("gpus: " + "y" * 100_000, field="z" * 10_000, index=3)
    status = server_errors.status_for(exc, {})
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(status.details) < server_errors.MAX_TEXT_CHARS + 100
    # What goes on the wire: the message, and the details base64-encoded (4/3 of their size).
    sent = len(status.details) + sum(
        len(value) * 4 // 3 for key, value in status.trailing_metadata if key.endswith("-bin")
    )
    assert sent < 5000, sent
