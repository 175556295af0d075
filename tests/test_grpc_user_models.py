"""Models given whole over gRPC (model_spec, user_models, family_models): the server prices and
plans them as the Python API does, and a model message round-trips its sliding window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import scaleplan as sp
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.errors import InvalidArgumentError
from scaleplan.grpc import conversions
from scaleplan.v1 import planner_pb2
from test_user_models import LIFETIME

HF = Path(__file__).parent / "data" / "hf"


@pytest.fixture
def client(server: ServerThread) -> Iterator[sp.Client]:
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as c:
        yield c


def mistral() -> sp.Model:
    return sp.Model.from_hf_config(HF / "mistral-7b-v0.1.json", name="mistral-7b")


def test_model_message_keeps_the_window() -> None:
    for m in (mistral(), sp.Model.from_hf_config(HF / "gemma-2-9b.json", name="g")):
        assert conversions.model_from(conversions.model_message(m)) == m


def test_inference_and_training_cost_of_a_model_given_whole(client: sp.Client) -> None:
    m = mistral()
    query: dict[str, Any] = {
        "prompt_tokens": 1000,
        "gen_tokens": 8000,
        "serving": sp.Serving(batch="max"),
    }
    remote = client.inference_cost(m, "h100-sxm", **query)
    local = sp.inference_cost(model=m, hardware="h100-sxm", **query)
    assert remote == local
    assert remote.kv_memory_bytes_per_query == 536_870_912  # 131_072 bytes x 4096 tokens
    sweep = client.inference_cost_sweep(
        m,
        "h100-sxm",
        prompt_tokens=[1000],
        gen_tokens=[2000, 8000],
        serving=sp.Serving(batch="max"),
    )
    # 1000 + 2000 tokens fit the window (3000 x 131_072 bytes); 9000 do not (4096 x 131_072).
    assert sweep.kv_memory_bytes_per_query.ravel().tolist() == [393_216_000, 536_870_912]
    assert client.training_cost(m, 1e12, "h100-sxm", seq_len=8192) == sp.training_cost(
        model=m, tokens=1e12, hardware="h100-sxm", seq_len=8192
    )


def test_test_time_and_family_models(client: sp.Client) -> None:
    windowed = sp.model("qwen3-8b").replace(sliding_window=2048)
    remote = client.plan_test_time(
        budget_eflops=1e16, models=[windowed], serving=sp.Serving(batch="max")
    )
    local = sp.plan_test_time(
        budget_eflops=1e16, models=[windowed], serving=sp.Serving(batch="max")
    )
    assert remote.to_dict() == local.to_dict()
    members = [sp.model(n) for n in sp.family("qwen3-dense").members]
    remote_joint = client.plan_joint(budget=1e5, queries=1e6, family=members)
    assert remote_joint.to_dict() == sp.plan_joint(budget=1e5, queries=1e6).to_dict()
    lifetime = LIFETIME
    assert (
        client.plan_lifetime(**lifetime, family=members).to_dict()
        == sp.plan_lifetime(**lifetime, family="qwen3-dense").to_dict()
    )
    with pytest.raises(InvalidArgumentError) as exc:
        client.plan_test_time(budget_eflops=1e16, models=[windowed.replace(name="My 8B")])
    assert exc.value.field == "name"
    with pytest.raises(InvalidArgumentError) as exc:
        client.plan_joint(budget=1e5, queries=1e6, family=["qwen3-8b"])  # type: ignore[list-item]
    assert exc.value.field == "family"


def test_both_name_and_model_is_refused(server: ServerThread) -> None:
    request = conversions.inference_cost_request(
        mistral(),
        "h100-sxm",
        prompt_tokens=1.0,
        gen_tokens=1.0,
        samples=1.0,
        attention="dense",
        serving=sp.Serving(batch="unset"),
    )
    request.model = "qwen3-8b"
    with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError) as exc:
        stub(channel).InferenceCost(request, timeout=TIMEOUT_S)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "model_spec" in (exc.value.details() or "")
    assert isinstance(request, planner_pb2.InferenceCostRequest)
