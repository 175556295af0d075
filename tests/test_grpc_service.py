"""Every RPC of scaleplan.v1.PlannerService end to end: the numbers equal the Python API's."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from google.protobuf import json_format
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.grpc import conversions
from scaleplan.grpc.server.app import banner
from scaleplan.grpc.server.service import PlannerService
from scaleplan.v1 import catalog_pb2, cost_pb2, planner_pb2, planner_pb2_grpc


def assert_same_cost(got: Any, want: Any) -> None:
    assert type(got) is type(want)
    for f in dataclasses.fields(want):
        g, w = getattr(got, f.name), getattr(want, f.name)
        if isinstance(w, np.ndarray):
            assert g.shape == w.shape, f.name
            assert np.array_equal(g, w), f.name
        else:
            assert g == w, f.name


def test_catalog(client: sp.Client) -> None:
    names = sp.catalog()
    listing = client.catalog()
    assert listing == names  # the same keys and names as the local catalog
    for name in names["models"]:
        assert client.model(name) == sp.model(name)
    for name in names["hardware"]:
        assert client.hardware(name) == sp.hardware(name)
    for name in names["families"]:
        assert client.family(name) == sp.family(name)


def test_list_catalog_message(channel: grpc.Channel) -> None:
    response = stub(channel).ListCatalog(planner_pb2.ListCatalogRequest(), timeout=TIMEOUT_S)
    moe = next(m for m in response.models if m.name == "qwen3-30b-a3b")
    assert moe.HasField("moe") and moe.moe.experts == sp.model("qwen3-30b-a3b").moe.experts
    dense = next(m for m in response.models if m.name == "qwen3-8b")
    assert not dense.HasField("moe")
    assert dense.max_context_tokens == sp.model("qwen3-8b").max_context
    h100 = next(h for h in response.hardware if h.name == "h100-sxm")
    assert h100.peak_bf16_flops_per_s == sp.hardware("h100-sxm").peak_flops_bf16


CONFIGS: list[dict[str, Any]] = [
    {"prompt_tokens": 128, "gen_tokens": 16384, "serving": sp.Serving(prefill=False)},
    {"prompt_tokens": 512, "gen_tokens": 8192, "samples": 8, "serving": sp.Serving(batch="unset")},
    {
        "prompt_tokens": 512,
        "gen_tokens": 8192,
        "samples": 4,
        "serving": sp.Serving(batch=64, gpus=2),
    },
    {
        "prompt_tokens": 4096,
        "gen_tokens": 2048,
        "attention": "topk:1024",
        "serving": sp.Serving(prefix_sharing=False, time_model="roofline"),
    },
    {
        "prompt_tokens": 4096,
        "gen_tokens": 2048,
        "attention": ("block_topk", 1024, 16),
        "serving": sp.Serving(kv_dtype="fp8", weight_dtype="fp8", compute_dtype="fp8"),
    },
    {
        "prompt_tokens": 100.5,
        "gen_tokens": 1000.5,
        "serving": sp.Serving(weight_dtype="fp16", kv_dtype="fp16"),
    },
    {"prompt_tokens": 0, "gen_tokens": 40000},  # infeasible: context
    {"prompt_tokens": 128, "gen_tokens": 256, "serving": sp.Serving(batch=16, prefill="batch")},
    {"prompt_tokens": 128, "gen_tokens": 256, "serving": sp.Serving(prefill="per_query")},
]


@pytest.mark.parametrize("model", ["qwen3-8b", "qwen3-30b-a3b", "llama-3.1-70b"])
@pytest.mark.parametrize("config", CONFIGS)
def test_inference_cost(client: sp.Client, model: str, config: dict[str, Any]) -> None:
    want = sp.inference_cost(model, "h100-sxm", **config)
    assert_same_cost(client.inference_cost(model, "h100-sxm", **config), want)


def test_inference_cost_defaults_come_from_the_python_api(channel: grpc.Channel) -> None:
    """A request with only the required fields gets the Python API's defaults."""
    request = planner_pb2.InferenceCostRequest(
        model="qwen3-8b", hardware="b200", prompt_tokens=128, gen_tokens=1024
    )
    response = stub(channel).InferenceCost(request, timeout=TIMEOUT_S)
    want = sp.inference_cost("qwen3-8b", "b200", prompt_tokens=128, gen_tokens=1024)
    assert_same_cost(conversions.inference_cost_from(response.cost), want)
    assert response.cost.batch_sequences == want.batch == want.max_batch  # batch "max"
    assert response.cost.binding == cost_pb2.BINDING_CONSTRAINT_NONE


def test_prefill_mode_on_the_wire(channel: grpc.Channel) -> None:
    """PREFILL_MODE_BATCH prices the static batch's prefill into the time to first token;
    prefill = false leaves prefill out whatever the mode."""
    request = planner_pb2.InferenceCostRequest(
        model="qwen3-8b",
        hardware="h100-sxm",
        prompt_tokens=128,
        gen_tokens=1,
        serving={
            "batch_mode": cost_pb2.BATCH_MODE_FIXED,
            "batch_sequences": 8,
            "prefill_mode": cost_pb2.PREFILL_MODE_BATCH,
        },
    )
    response = stub(channel).InferenceCost(request, timeout=TIMEOUT_S)
    eight = sp.Serving(batch=8, prefill="batch")
    want = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=128, gen_tokens=1, serving=eight)
    assert_same_cost(conversions.inference_cost_from(response.cost), want)
    per_query = sp.inference_cost(
        "qwen3-8b", "h100-sxm", prompt_tokens=128, gen_tokens=1, serving=sp.Serving(batch=8)
    )
    assert response.cost.ttft_s > 4 * per_query.ttft_s
    request.serving.prefill = False
    response = stub(channel).InferenceCost(request, timeout=TIMEOUT_S)
    assert response.cost.ttft_s == 0.0 and response.cost.prefill_flops == 0.0
    # a static batch needs a batch: the error names the request's field
    bad = planner_pb2.InferenceCostRequest(
        model="qwen3-8b",
        hardware="h100-sxm",
        prompt_tokens=128,
        gen_tokens=1,
        serving={
            "batch_mode": cost_pb2.BATCH_MODE_AMORTIZED,
            "prefill_mode": cost_pb2.PREFILL_MODE_BATCH,
        },
    )
    with pytest.raises(grpc.RpcError) as err:
        stub(channel).InferenceCost(bad, timeout=TIMEOUT_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "prefill_mode" in (err.value.details() or "")


def test_planners_take_the_prefill_mode(client: sp.Client) -> None:
    """ServingOptions.prefill_mode reaches the planners: the same plan as the Python API's."""
    kwargs: dict[str, Any] = {"budget_seconds": 2.0, "hardware": "h100-sxm"}
    static = sp.Serving(batch=64, prefill="batch")
    want = sp.plan_test_time(**kwargs, serving=static)
    # the static batch's prefill changes the plan
    assert want != sp.plan_test_time(**kwargs, serving=sp.Serving(batch=64))
    # equal to the static-batch plan, so the mode crossed the wire (ServingOptions.prefill_mode)
    assert client.plan_test_time(**kwargs, serving=static) == want


def test_training_cost(client: sp.Client) -> None:
    for kwargs in [{}, {"gpus": 1024, "mfu": 0.4, "seq_len": 8192}, {"compute_dtype": "fp8"}]:
        want = sp.training_cost("llama-3.1-8b", 15e12, "h100-sxm", **kwargs)
        assert client.training_cost("llama-3.1-8b", 15e12, "h100-sxm", **kwargs) == want
    priced = [h for h in sp.catalog()["hardware"] if sp.hardware(h).usd_per_hour is not None]
    unpriced = [h for h in sp.catalog()["hardware"] if sp.hardware(h).usd_per_hour is None]
    for hw in priced[:1] + unpriced[:1]:
        assert client.training_cost("qwen3-8b", 1e12, hw) == sp.training_cost("qwen3-8b", 1e12, hw)


SWEEPS: list[dict[str, Any]] = [
    {"prompt_tokens": [128, 512], "gen_tokens": [1024, 4096, 16384], "samples": [1, 4, 16]},
    {
        "prompt_tokens": [4096],
        "gen_tokens": [512, 2048],
        "attention": [f"block_topk:{s}:{b}" for s in (256, 1024) for b in (16, 64)],
        "serving": sp.Serving(batch=np.array([16.0, 64.0, 256.0])),
    },
    {
        "prompt_tokens": [512],
        "gen_tokens": np.geomspace(64, 32768, 10),
        "samples": [1, 8],
        "serving": sp.Serving(batch="unset", time_model="roofline", gpus=2),
    },
]


@pytest.mark.parametrize("sweep", SWEEPS)
@pytest.mark.parametrize("chunk_points", [0, 1, 7])
def test_inference_cost_sweep(client: sp.Client, sweep: dict[str, Any], chunk_points: int) -> None:
    got = client.inference_cost_sweep("qwen3-8b", "h100-sxm", chunk_size=chunk_points, **sweep)
    # The same grid through the Python API: open-mesh arrays, attention spellings and batch
    # sizes as two more axes where they are swept.
    axes = [
        np.asarray(sweep.get(k, [1]), dtype=np.float64)
        for k in ("prompt_tokens", "gen_tokens", "samples")
    ]
    attention = np.array(sweep.get("attention", ["dense"]))
    serving = sweep.get("serving", sp.Serving())
    sizes = serving.batch if isinstance(serving.batch, np.ndarray) else None
    extra = [np.arange(attention.size)] + ([] if sizes is None else [np.arange(sizes.size)])
    mesh = np.ix_(*axes, *extra)
    if sizes is not None:
        serving = dataclasses.replace(serving, batch=sizes[mesh[4]])
    want = sp.inference_cost(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=mesh[0],
        gen_tokens=mesh[1],
        samples=mesh[2],
        attention=attention[mesh[3]],
        serving=serving,
    )
    if "attention" not in sweep:  # one attention: no attention axis in the client's result
        want = sp.InferenceCost(
            **{k: np.squeeze(v, axis=3) for k, v in dataclasses.asdict(want).items()}
        )
    assert_same_cost(got, want)


def test_sweep_stream_is_ordered_and_complete(channel: grpc.Channel) -> None:
    request = planner_pb2.InferenceCostSweepRequest(
        model="qwen3-8b", hardware="h100-sxm", chunk_points=10
    )
    request.grid.prompt_tokens.extend([128, 256, 512])
    request.grid.gen_tokens.extend(range(1, 34))
    messages = list(stub(channel).InferenceCostSweep(request, timeout=TIMEOUT_S))
    total = 3 * 33
    assert [m.start_index for m in messages] == list(range(0, total, 10))
    assert all(m.total_points == total for m in messages)
    assert [len(m.costs.total_flops) for m in messages] == [10] * 9 + [9]
    flops = np.concatenate([np.array(m.costs.total_flops) for m in messages])
    want = sp.inference_cost(
        "qwen3-8b", "h100-sxm", prompt_tokens=[[128], [256], [512]], gen_tokens=np.arange(1, 34)
    )
    assert np.array_equal(flops, np.ravel(want.flops))
    for m in messages:  # every column has one entry per point
        n = len(m.costs.total_flops)
        assert all(len(getattr(m.costs, f.name)) == n for f in m.costs.DESCRIPTOR.fields)


def test_sweep_chunks_are_capped(server: ServerThread, channel: grpc.Channel) -> None:
    assert server.server is not None
    cap = server.server.service.limits.max_chunk_points
    request = planner_pb2.InferenceCostSweepRequest(
        model="qwen3-8b", hardware="h100-sxm", chunk_points=10 * cap
    )
    request.grid.prompt_tokens.append(128)
    request.grid.gen_tokens.extend(np.arange(1.0, cap + 2))
    messages = stub(channel).InferenceCostSweep(request, timeout=TIMEOUT_S)
    sizes = [len(m.costs.total_flops) for m in messages]
    assert sizes == [cap, 1]


def test_iter_sweep_yields_chunks(client: sp.Client) -> None:
    chunks = list(
        client.iter_inference_cost_sweep(
            "qwen3-8b", "h100-sxm", prompt_tokens=[128], gen_tokens=range(1, 11), chunk_size=4
        )
    )
    assert [(c.start_index, c.total_points, len(c.cost.flops)) for c in chunks] == [
        (0, 10, 4),
        (4, 10, 4),
        (8, 10, 2),
    ]


def test_health(client: sp.Client) -> None:
    assert client.health() == "SERVING"
    assert client.health("scaleplan.v1.PlannerService") == "SERVING"


def test_every_rpc_has_a_handler() -> None:
    service = planner_pb2.DESCRIPTOR.services_by_name["PlannerService"]
    base = planner_pb2_grpc.PlannerServiceServicer
    for method in service.methods:
        handler = getattr(PlannerService, method.name)
        assert handler is not getattr(base, method.name), f"{method.name} is not implemented"
        assert method.input_type.name == f"{method.name}Request"
        assert method.output_type.name == f"{method.name}Response"


@pytest.mark.parametrize(
    ("cls", "message", "renames"),
    [
        (sp.Hardware, catalog_pb2.Hardware, conversions.HARDWARE_FIELDS),
        (sp.Model, catalog_pb2.Model, conversions.MODEL_FIELDS),
        (sp.Moe, catalog_pb2.MixtureOfExperts, {}),
        (sp.Family, catalog_pb2.Family, {}),
        (sp.InferenceCost, cost_pb2.InferenceCost, conversions.INFERENCE_COST_FIELDS),
        (sp.InferenceCost, cost_pb2.InferenceCostColumns, conversions.INFERENCE_COST_FIELDS),
        (sp.TrainingCost, cost_pb2.TrainingCost, conversions.TRAINING_COST_FIELDS),
    ],
)
def test_every_field_crosses_the_wire(cls: type, message: Any, renames: dict[str, str]) -> None:
    """A field added to a dataclass (or a message) without its counterpart fails here."""
    python = {renames.get(f.name, f.name) for f in dataclasses.fields(cls) if f.init}
    assert python == set(message.DESCRIPTOR.fields_by_name)


def test_wire_enums_cover_the_python_options() -> None:
    for option, enum in [
        (sp.serving.AttentionKind, cost_pb2.Attention),
        (sp.serving.TimeModel, cost_pb2.TimeModel),
        (sp.serving.Dtype, cost_pb2.Dtype),
    ]:
        texts = [conversions.enum_text(enum, v.number, "x") for v in enum.DESCRIPTOR.values[1:]]
        assert sorted(texts) == sorted(option.__args__)
    modes = cost_pb2.PrefillMode.DESCRIPTOR.values[1:]
    assert [conversions.enum_text(cost_pb2.PrefillMode, v.number, "x") for v in modes] == [
        "per_query",
        "batch",
    ]
    bindings = cost_pb2.BindingConstraint.DESCRIPTOR.values[1:]
    assert [
        conversions.enum_text(cost_pb2.BindingConstraint, v.number, "x") for v in bindings
    ] == list(sp._core.BINDINGS)


def test_documented_grpcurl_requests_work(channel: grpc.Channel) -> None:
    """The JSON bodies of the README's and the server banner's grpcurl examples, each sent to
    the unary RPC it names."""
    example = r"-d '(\{.*?\})'\s*\\?\s*\S+\s+scaleplan\.v1\.PlannerService/(\w+)"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    calls = re.findall(example, readme, flags=re.DOTALL)
    assert calls
    with ServerThread() as s:
        assert s.server is not None
        calls += re.findall(example, banner(s.server))
    for body, method in calls:
        request = json_format.Parse(body, getattr(planner_pb2, f"{method}Request")())
        response = getattr(stub(channel), method)(request, timeout=TIMEOUT_S)
        assert response.ByteSize() > 0
        if method == "InferenceCost":
            assert response.cost.total_flops > 0
        if hasattr(response, "plan"):
            assert response.plan.feasible, method
