"""PlanParScale end to end: the plan equals the Python API's, an infeasible plan is a normal
response, bad input names the request field, and the client raises the API's exceptions."""

from __future__ import annotations

import math
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, assert_same, stub
from scaleplan.errors import InvalidArgumentError, ScaleplanError
from scaleplan.v1 import planner_pb2

SERVE = {"hardware": "h100-sxm", "prompt_tokens": 512, "gen_tokens": 1024}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_loss": 1.02},
        {"target_loss": 1.02, "objective": "latency", "serving": sp.Serving(batch=1)},
        {"target_loss": 0.95, "streams": [1, 2], "law": "parscale2025-stack"},
        {"target_loss": 1.9, "law": "parscale2025-pile", "max_latency_s": 30.0},
        {"budget": 0.2, "serving": sp.Serving(batch=8), "attention": "topk:1024"},
        {"budget": 1e-12},
        {"target_loss": 0.6},
        {"target_loss": 1.02, "streams": 4, "family": "llama-3.1", "samples": 2},
    ],
)
def test_plan_parscale_equals_the_python_api(client: sp.Client, kwargs: dict[str, Any]) -> None:
    want = sp.plan_parscale(**SERVE, **kwargs)
    assert_same(client.plan_parscale(**SERVE, **kwargs), want)


def test_response_carries_the_explanation(channel: grpc.Channel) -> None:
    request = planner_pb2.PlanParScaleRequest(
        target_loss=1.02, hardware="h100-sxm", prompt_tokens=512, gen_tokens=1024
    )
    response = stub(channel).PlanParScale(request, timeout=TIMEOUT_S)
    plan = sp.plan_parscale(target_loss=1.02, **SERVE)
    assert response.explanation == plan.explain()
    # Unset fields take the façade's defaults (law, family, objective, streams, serving).
    assert response.plan.law == "parscale2025-stack" and response.plan.objective == "gpu_seconds"
    assert response.plan.streams == plan.streams and response.plan.params == plan.params


def error(channel: grpc.Channel, request: Any) -> tuple[grpc.RpcError, list[str]]:
    with pytest.raises(grpc.RpcError) as caught:
        stub(channel).PlanParScale(request, timeout=TIMEOUT_S)
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return caught.value, [v.field for v in bad.field_violations]


@pytest.mark.parametrize(
    ("fields", "code", "path"),
    [
        ({"streams": [3]}, grpc.StatusCode.INVALID_ARGUMENT, "streams"),
        ({"objective": "usd"}, grpc.StatusCode.INVALID_ARGUMENT, "objective"),
        ({"law": "hoffmann2022"}, grpc.StatusCode.NOT_FOUND, "law"),
        ({"hardware": "nope"}, grpc.StatusCode.NOT_FOUND, "hardware"),
        ({"max_latency_s": math.nan}, grpc.StatusCode.INVALID_ARGUMENT, "max_latency_s"),
        ({"prompt_tokens": -1}, grpc.StatusCode.INVALID_ARGUMENT, "prompt_tokens"),
    ],
)
def test_bad_input_names_the_request_field(
    channel: grpc.Channel, fields: dict[str, Any], code: grpc.StatusCode, path: str
) -> None:
    base: dict[str, Any] = {
        "target_loss": 1.0,
        "hardware": "h100-sxm",
        "prompt_tokens": 512,
        "gen_tokens": 1024,
    }
    exc, paths = error(channel, planner_pb2.PlanParScaleRequest(**{**base, **fields}))
    assert exc.code() == code, exc.details()
    assert [p.split("[")[0] for p in paths] == [path]


def test_client_raises_the_python_api_exceptions(client: sp.Client) -> None:
    with pytest.raises(InvalidArgumentError) as e:
        client.plan_parscale(target_loss=1.0, streams=[1, 3], **SERVE)
    assert e.value.field == "streams"
    with pytest.raises(ScaleplanError) as s:
        client.plan_parscale(target_loss=1.0, law="nope", **SERVE)
    assert s.value.field == "law"
    with pytest.raises(InvalidArgumentError) as a:
        client.plan_parscale(target_loss=np.array([1.0, 0.9]), **SERVE)
    assert a.value.field == "target_loss"
