"""The planner RPCs end to end: the plans equal the Python API's, an infeasible plan is a normal
response, bad input names the request field, frontiers stream in order and stop on a deadline."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from google.protobuf.descriptor import Descriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, assert_same, stub, wait_until
from scaleplan import errors
from scaleplan.grpc import conversions
from scaleplan.grpc.server import errors as server_errors
from scaleplan.testtime import Accuracy
from scaleplan.v1 import catalog_pb2, cost_pb2, plan_pb2, planner_pb2

EVAL_CSV = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_eval.csv"
MAX_BUDGETS = 1000
FRONTIER_JOINT = "/scaleplan.v1.PlannerService/FrontierJoint"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(max_sweep_points=MAX_BUDGETS) as s:
        yield s


# ---- catalog: laws and accuracy presets ----


def test_catalog_lists_laws_and_accuracy_presets(client: sp.Client, channel: grpc.Channel) -> None:
    listing = client.catalog()
    assert listing == sp.catalog()
    assert listing["accuracy"] == ["aime24-qwen3"]
    for name in sp.catalog()["laws"]:
        assert client.law(name) == sp.law(name)
    response = stub(channel).ListCatalog(planner_pb2.ListCatalogRequest(), timeout=TIMEOUT_S)
    preset = response.accuracy_presets[0]
    assert list(preset.models) == Accuracy.preset(preset.name).models()
    gadre = next(law for law in response.laws if law.name == "gadre2024-redpajama")
    assert gadre.HasField("error_law") and gadre.irreducible_loss == sp.law(gadre.name).E
    assert not next(law for law in response.laws if law.name == "hoffmann2022").HasField(
        "error_law"
    )


# ---- every planner: the same plan as the Python API ----

CUSTOM_LAW = sp.law("besiroglu2024").replace(name="mine", E=1.5, alpha=0.3)

TRAINING: list[dict[str, Any]] = [
    {"budget_flops": 1e23},
    {"target_loss": 2.2},
    {"budget_flops": 3.3e21, "law": "hoffmann2022"},
    {"budget_flops": 1e24, "unique_tokens": 1e11},
    {"target_loss": 2.1, "unique_tokens": 5e11, "r_star": 5.0},
    {"budget_flops": 1e22, "law": CUSTOM_LAW},
    {"target_loss": 1.0},  # infeasible: below the loss floor
]


@pytest.mark.parametrize("kwargs", TRAINING)
def test_plan_training(client: sp.Client, kwargs: dict[str, Any]) -> None:
    assert_same(client.plan_training(**kwargs), sp.plan_training(**kwargs))


LIFETIME: list[dict[str, Any]] = [
    {"target_loss": 2.2},
    {"budget": 1e23, "samples": 4},
    {"target_loss": 2.3, "law": "besiroglu2024", "unique_tokens": 1e12, "max_params": 5e9},
    {"target_loss": 2.2, "hardware": "h100-sxm", "family": "qwen3-dense", "unit": "gpu_hours"},
    {
        "budget": 1e22,
        "hardware": "h100-sxm",
        "family": "qwen3-dense",
        "unit": "eflops",
        "attention": "topk:64",
        "serving": sp.Serving(time_model="roofline"),
    },
    {
        "target_loss": 2.2,
        "hardware": "b200",
        "family": "qwen3-dense",
        "unit": "usd",
        "train_hardware": "h100-sxm",
        "train_mfu": 0.35,
        "train_usd_per_hour": 2.0,
        "infer_usd_per_hour": 4.5,
        "serving": sp.Serving(
            batch=32, gpus=2, kv_dtype="fp8", prefix_sharing=False, prefill=False
        ),
    },
    {
        "target_loss": 2.2,
        "hardware": "h100-sxm",
        "family": "llama-3.1",
        "unit": "usd",
        "infer_usd_per_hour": 2.5,
        "train_usd_per_hour": 2.0,
        "min_params": 1e10,
    },
    {"target_loss": 1.5},  # infeasible: the loss floor
    {"budget": 1e10},  # infeasible: inference alone costs more
]


@pytest.mark.parametrize("kwargs", LIFETIME)
def test_plan_lifetime(client: sp.Client, kwargs: dict[str, Any]) -> None:
    kwargs = {"queries": 1e9, "prompt_tokens": 100, "gen_tokens": 200, **kwargs}
    assert_same(client.plan_lifetime(**kwargs), sp.plan_lifetime(**kwargs))


TEST_TIME: list[dict[str, Any]] = [
    {"budget_eflops": 1e14},
    {"budget_flops": 1e14, "models": ["qwen3-4b", "qwen3-8b"], "prompt_tokens": 512},
    {"budget_seconds": 0.5, "family": "qwen3-dense", "hardware": "h100-sxm"},
    {"budget_usd": 1e-3, "hardware": "h100-sxm", "usd_per_hour": 2.0, "latency_slo_s": 30.0},
    {"budget_usd": 1e-3, "usd_per_hour": 3.0, "serving": sp.Serving(batch="unset"), "k_max": 8},
    {
        "budget_eflops": 1e16,
        "attention": ["dense", ("topk", 1024), ("block_topk", 512, 16)],
        "max_gen_tokens": None,
        "min_gen_tokens": 512,
    },
    {
        "budget_eflops": 1e15,
        "accuracy": Accuracy.preset("aime24-qwen3", "majority"),
        "serving": sp.Serving(gpus=2, batch=64, weight_dtype="fp8", time_model="roofline"),
    },
    {"budget_eflops": 1e16, "accuracy": EVAL_CSV},
    {"budget_eflops": 1e6},  # infeasible: nothing fits
]


@pytest.mark.parametrize("kwargs", TEST_TIME)
def test_plan_test_time(client: sp.Client, kwargs: dict[str, Any]) -> None:
    want_kwargs = dict(kwargs)
    if isinstance(kwargs.get("accuracy"), Path):  # the client reads the file, the API too
        want_kwargs["accuracy"] = Accuracy.measured(kwargs["accuracy"])
    want = sp.plan_test_time(**want_kwargs)
    assert_same(client.plan_test_time(**kwargs), want)
    if "accuracy" in want_kwargs and "measured" in want_kwargs["accuracy"].label:
        assert want.oracle_accuracy is not None


def test_measured_rows_cross_the_wire(client: sp.Client) -> None:
    """Eval rows given as mappings (here the CSV's rows of strings, as the API reads them)."""
    data = list(csv.DictReader(EVAL_CSV.read_text().splitlines()))
    want = sp.frontier_test_time(
        budgets=[1e15, 1e16, 1e17], accuracy=Accuracy.measured(data), k_max=16
    )
    got = client.frontier_test_time(budgets=[1e15, 1e16, 1e17], accuracy=data, k_max=16)
    assert_same(got.plan, want.plan)
    assert got.oracle is not None and want.oracle is not None
    assert np.array_equal(got.oracle, want.oracle)
    assert np.all(got.oracle >= got.plan.accuracy)  # an upper bound


JOINT: list[dict[str, Any]] = [
    {"budget": 1e6},
    {
        "budget": 1e5,
        "unit": "usd",
        "k_max": 4,
        "prompt_tokens": 512,
        "train_usd_per_hour": 2.0,
        "infer_usd_per_hour": 3.0,
    },
    {"target_accuracy": 0.5},
    {
        "budget": 1e6,
        "attention": ["dense", ("topk", 1024)],
        "latency_slo_s": 60.0,
        "serving": sp.Serving(batch="unset"),
        "max_params": 8e9,
    },
    {
        "budget": 1e24,
        "unit": "flops",
        "hardware": "b200",
        "half_tokens": 2048,
        "hill": 2.0,
        "kappa": 0.5,
        "unique_tokens": 1e12,
    },
    {"budget": 1e6, "law": sp.law("gadre2024-redpajama").replace(name="custom", E=1.7)},
    {"target_accuracy": 0.99},  # infeasible: the law caps accuracy
]


@pytest.mark.parametrize("kwargs", JOINT)
def test_plan_joint(client: sp.Client, kwargs: dict[str, Any]) -> None:
    kwargs = {"queries": 1e9, **kwargs}
    assert_same(client.plan_joint(**kwargs), sp.plan_joint(**kwargs))


def test_responses_carry_the_explanation(channel: grpc.Channel) -> None:
    response = stub(channel).PlanTestTime(
        planner_pb2.PlanTestTimeRequest(budget_eflops=1e14), timeout=TIMEOUT_S
    )
    assert response.explanation == sp.plan_test_time(budget_eflops=1e14).explain()
    assert response.plan.unit == plan_pb2.COST_UNIT_EFLOPS
    assert not response.plan.HasField("oracle_upper_bound_accuracy")


def test_request_defaults_come_from_the_python_api(channel: grpc.Channel) -> None:
    """A request with only the goal (and required fields) gets the Python API's defaults."""
    s = stub(channel)
    got = s.PlanTraining(planner_pb2.PlanTrainingRequest(target_loss=2.2), timeout=TIMEOUT_S)
    assert conversions.training_plan_from(got.plan) == sp.plan_training(target_loss=2.2)
    assert got.plan.law == sp.DEFAULT_LAW  # an unset law is the one default law
    request = planner_pb2.PlanLifetimeRequest(
        target_loss=2.2, queries=1e9, prompt_tokens=1, gen_tokens=1
    )
    got_lifetime = s.PlanLifetime(request, timeout=TIMEOUT_S)
    want_lifetime = sp.plan_lifetime(target_loss=2.2, queries=1e9, prompt_tokens=1, gen_tokens=1)
    assert conversions.lifetime_plan_from(got_lifetime.plan) == want_lifetime
    assert got_lifetime.plan.law == sp.DEFAULT_LAW
    got_tt = s.PlanTestTime(
        planner_pb2.PlanTestTimeRequest(
            budget_seconds=0.1, options=plan_pb2.TestTimeOptions(hardware="h100-sxm")
        ),
        timeout=TIMEOUT_S,
    )
    want_tt = sp.plan_test_time(budget_seconds=0.1, hardware="h100-sxm")
    assert conversions.test_time_plan_from(got_tt.plan) == want_tt
    # Every planner's batch default is "max"; AMORTIZED is "unset".
    request_joint = planner_pb2.PlanJointRequest(budget=1e6, options={"queries": 1e9})
    got_joint = s.PlanJoint(request_joint, timeout=TIMEOUT_S)
    assert conversions.joint_plan_from(got_joint.plan) == sp.plan_joint(budget=1e6, queries=1e9)
    assert got_joint.plan.law == sp.DEFAULT_LAW
    request_joint.options.serving.batch_mode = cost_pb2.BATCH_MODE_AMORTIZED
    got_joint = s.PlanJoint(request_joint, timeout=TIMEOUT_S)
    want_joint = sp.plan_joint(budget=1e6, queries=1e9, serving=sp.Serving(batch="unset"))
    assert conversions.joint_plan_from(got_joint.plan) == want_joint


def test_max_gen_tokens_infinity_is_no_bound(channel: grpc.Channel) -> None:
    options = plan_pb2.TestTimeOptions(max_gen_tokens=math.inf)
    response = stub(channel).PlanTestTime(
        planner_pb2.PlanTestTimeRequest(budget_eflops=1e17, options=options), timeout=TIMEOUT_S
    )
    want = sp.plan_test_time(budget_eflops=1e17, max_gen_tokens=None)
    assert conversions.test_time_plan_from(response.plan) == want


def test_infeasible_plans_are_normal_responses(channel: grpc.Channel) -> None:
    s = stub(channel)
    training = s.PlanTraining(planner_pb2.PlanTrainingRequest(target_loss=1.0), timeout=TIMEOUT_S)
    assert not training.plan.feasible
    assert training.plan.binding == plan_pb2.PLAN_CONSTRAINT_LOSS_FLOOR
    assert training.explanation.startswith("No plan")
    test_time = s.PlanTestTime(
        planner_pb2.PlanTestTimeRequest(budget_eflops=1e6), timeout=TIMEOUT_S
    )
    assert not test_time.plan.feasible and test_time.plan.model == ""
    assert test_time.plan.binding == plan_pb2.PLAN_CONSTRAINT_BUDGET
    request = planner_pb2.PlanJointRequest(target_accuracy=0.99, options={"queries": 1e9})
    joint = s.PlanJoint(request, timeout=TIMEOUT_S)
    assert not joint.plan.feasible
    assert joint.plan.binding == plan_pb2.PLAN_CONSTRAINT_TARGET_ACCURACY
    request_lifetime = planner_pb2.PlanLifetimeRequest(
        budget=1e10, queries=1e9, prompt_tokens=100, gen_tokens=200
    )
    lifetime = s.PlanLifetime(request_lifetime, timeout=TIMEOUT_S)
    assert not lifetime.plan.feasible
    assert lifetime.plan.binding == plan_pb2.PLAN_CONSTRAINT_INFERENCE_EXCEEDS_BUDGET


# ---- frontiers: streamed in order, complete, equal to the Python API's ----

BUDGETS_TT = np.geomspace(1e11, 1e17, 23)


@pytest.mark.parametrize("chunk_points", [0, 1, 7, 10_000])
def test_frontier_test_time(client: sp.Client, chunk_points: int) -> None:
    kwargs: dict[str, Any] = {"attention": ["dense", ("topk", 2048)], "k_max": 16}
    got = client.frontier_test_time(budgets=BUDGETS_TT, chunk_size=chunk_points, **kwargs)
    want = sp.frontier_test_time(budgets=BUDGETS_TT, **kwargs)
    assert np.array_equal(got.budgets, want.budgets)
    assert_same(got.plan, want.plan)
    assert list(got.per_model) == list(want.per_model)
    for name, curve in want.per_model.items():
        assert np.array_equal(got.per_model[name], curve), name
    assert got.oracle is None and want.oracle is None


def test_frontier_test_time_stream_is_ordered_and_complete(channel: grpc.Channel) -> None:
    request = planner_pb2.FrontierTestTimeRequest(
        budgets=BUDGETS_TT, unit=plan_pb2.COST_UNIT_EFLOPS, chunk_points=5
    )
    request.options.family = "qwen3-dense"
    messages = list(stub(channel).FrontierTestTime(request, timeout=TIMEOUT_S))
    total = len(BUDGETS_TT)
    assert [m.start_index for m in messages] == list(range(0, total, 5))
    assert all(m.total_points == total for m in messages)
    assert [len(m.plan.budget) for m in messages] == [5, 5, 5, 5, 3]
    want = sp.frontier_test_time(budgets=BUDGETS_TT, family="qwen3-dense")
    budgets = np.concatenate([np.array(m.plan.budget) for m in messages])
    assert np.array_equal(budgets, BUDGETS_TT)
    for m in messages:  # every column has one entry per budget (no oracle, no eval: a preset)
        n = len(m.plan.budget)
        for f in m.plan.DESCRIPTOR.fields:
            if f.is_repeated:
                absent = ("oracle_upper_bound_accuracy", "eval_samples")
                expected = 0 if f.name in absent else n
                assert len(getattr(m.plan, f.name)) == expected, f.name
        assert m.plan.unit == plan_pb2.COST_UNIT_EFLOPS
        assert [c.model for c in m.per_model] == list(want.per_model)
        assert all(len(c.accuracy) == n for c in m.per_model)


def test_empty_frontier_is_one_empty_chunk(client: sp.Client, channel: grpc.Channel) -> None:
    messages = list(
        stub(channel).FrontierJoint(
            planner_pb2.FrontierJointRequest(options={"queries": 1e9}), timeout=TIMEOUT_S
        )
    )
    assert [(m.start_index, m.total_points, len(m.plan.params)) for m in messages] == [(0, 0, 0)]
    got = client.frontier_test_time(budgets=[])
    want = sp.frontier_test_time(budgets=[])
    assert_same(got.plan, want.plan)
    assert list(got.per_model) == list(want.per_model)


BUDGETS_JOINT = np.geomspace(1e4, 1e7, 6)


@pytest.mark.parametrize("chunk_points", [0, 1, 4])
def test_frontier_joint(client: sp.Client, chunk_points: int) -> None:
    kwargs: dict[str, Any] = {
        "queries": 1e8,
        "k_max": 8,
        "unit": "usd",
        "train_usd_per_hour": 2.0,
        "infer_usd_per_hour": 3.0,
    }
    got = client.frontier_joint(budgets=BUDGETS_JOINT, chunk_size=chunk_points, **kwargs)
    assert_same(got, sp.frontier_joint(budgets=BUDGETS_JOINT, **kwargs))


def test_frontier_joint_chunks(channel: grpc.Channel) -> None:
    request = planner_pb2.FrontierJointRequest(budgets=BUDGETS_JOINT, options={"queries": 1e8})
    messages = list(stub(channel).FrontierJoint(request, timeout=TIMEOUT_S))
    # The server's default chunk for the joint planner is small: a chunk is ~10-50 ms of work.
    assert [m.start_index for m in messages] == [0, 4]
    assert [len(m.plan.total_cost) for m in messages] == [4, 2]
    assert {(m.plan.law, m.plan.unit) for m in messages} == {
        ("gadre2024-redpajama", plan_pb2.COST_UNIT_GPU_HOURS)
    }


# ---- errors ----


def details(exc: grpc.RpcError) -> tuple[Any, error_details_pb2.BadRequest, Any]:
    status = rpc_status.from_call(exc)
    assert status is not None
    bad, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
    assert [d.Unpack(m) for d, m in zip(status.details, (bad, info), strict=True)] == [True, True]
    return status, bad, info


def read_into(received: list[Any], stream: Iterator[Any]) -> None:
    for message in stream:
        received.append(message)


def call_error(fn: Any, request: Any) -> grpc.RpcError:
    def call() -> None:
        result = fn(request, timeout=TIMEOUT_S)
        if not hasattr(result, "ByteSize"):  # a stream: read it
            list(result)

    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def resolves(descriptor: Descriptor, path: str) -> bool:
    """Whether a BadRequest field path names a field of the request."""
    for part in path.split("."):
        name = part.split("[")[0]
        field = descriptor.fields_by_name.get(name)
        if field is None:
            return False
        if field.message_type is not None:
            descriptor = field.message_type
    return True


LAW_BAD_E = catalog_pb2.Law(
    name="bad",
    irreducible_loss=-1,
    params_coefficient=400,
    tokens_coefficient=400,
    params_exponent=0.3,
    tokens_exponent=0.3,
)
ROWS_BAD = plan_pb2.MeasuredAccuracy(
    rows=[plan_pb2.EvalRow(model="qwen3-8b", gen_tokens=1000, problem="p", n=4, c=5)]
)
ROWS_4_BIG_N = plan_pb2.MeasuredAccuracy(
    rows=[
        plan_pb2.EvalRow(model="qwen3-8b", gen_tokens=g, problem=p, n=4, c=1)
        for g in (1024, 2048)
        for p in ("p1", "p2")
    ]
)
ROWS_4_BIG_N.rows[3].n = 2**32  # one more than the core's 32-bit counts hold
ROWS_4_BIG_C = plan_pb2.MeasuredAccuracy()
ROWS_4_BIG_C.CopyFrom(ROWS_4_BIG_N)
ROWS_4_BIG_C.rows[3].n, ROWS_4_BIG_C.rows[3].c = 4, 2**33
ROWS_OTHER_MODEL = plan_pb2.MeasuredAccuracy(
    rows=[
        plan_pb2.EvalRow(model="qwen3-8b", gen_tokens=1024, problem="p1", n=4, c=1),
        plan_pb2.EvalRow(model="llama-3.1-8b", gen_tokens=1024, problem="p1", n=4, c=2),
    ]
)
TOPK = plan_pb2.AttentionChoice(attention=cost_pb2.ATTENTION_TOPK)
DENSE = plan_pb2.AttentionChoice()
INVALID = "INVALID_ARGUMENT"
NOT_FOUND = "NOT_FOUND"

P, W = planner_pb2, plan_pb2
# (rpc, request, status code, field path)
BAD_REQUESTS: list[tuple[str, Any, str, str]] = [
    ("PlanTraining", P.PlanTrainingRequest(), INVALID, "budget_flops"),
    ("PlanTraining", P.PlanTrainingRequest(budget_flops=-1), INVALID, "budget_flops"),
    (
        "PlanTraining",
        P.PlanTrainingRequest(target_loss=2, unique_tokens=0),
        INVALID,
        "unique_tokens",
    ),
    ("PlanTraining", P.PlanTrainingRequest(target_loss=2, law_name="nope"), NOT_FOUND, "law_name"),
    (
        "PlanTraining",
        P.PlanTrainingRequest(target_loss=2, custom_law=LAW_BAD_E),
        INVALID,
        "custom_law.irreducible_loss",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(target_loss=2.2, queries=1, hardware="h100-sxm"),
        INVALID,
        "family",
    ),
    ("PlanLifetime", P.PlanLifetimeRequest(target_loss=2.2, queries=-1), INVALID, "queries"),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(target_loss=2.2, unit=W.COST_UNIT_SECONDS),
        INVALID,
        "unit",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(
            target_loss=2.2,
            hardware="h100-sxm",
            family="qwen3-dense",
            attention={"attention": cost_pb2.ATTENTION_TOPK},
        ),
        INVALID,
        "attention",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(
            target_loss=2.2, hardware="h100-sxm", family="qwen3-dense", serving={"gpus": 0}
        ),
        INVALID,
        "serving.gpus",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(target_loss=2.2, serving={"batch_mode": cost_pb2.BATCH_MODE_FIXED}),
        INVALID,
        "serving.batch_sequences",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(target_loss=2.2, train_hardware="tpu"),
        NOT_FOUND,
        "train_hardware",
    ),
    ("PlanTestTime", P.PlanTestTimeRequest(), INVALID, "budget_eflops"),
    ("PlanTestTime", P.PlanTestTimeRequest(budget_seconds=math.nan), INVALID, "budget_seconds"),
    (
        "PlanTestTime",  # gaudi3 has no catalog price, so a USD budget needs one
        P.PlanTestTimeRequest(budget_usd=1e-3, options={"hardware": "gaudi3"}),
        INVALID,
        "options.usd_per_hour",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(budget_flops=1e15, options={"accuracy_preset": "x"}),
        NOT_FOUND,
        "options.accuracy_preset",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(budget_flops=1e15, options={"models": ["nope"]}),
        NOT_FOUND,
        "options.models",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15, options={"models": ["qwen3-8b"], "family": "qwen3-dense"}
        ),
        INVALID,
        "options.models",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(budget_flops=1e15, options={"k_max": 0}),
        INVALID,
        "options.k_max",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15, options=W.TestTimeOptions(measured_accuracy=ROWS_BAD)
        ),
        INVALID,
        "options.measured_accuracy.rows[0].c",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15,
            options=W.TestTimeOptions(
                measured_accuracy=ROWS_BAD, accuracy_aggregator=W.ACCURACY_AGGREGATOR_MAJORITY
            ),
        ),
        INVALID,
        "options.accuracy_aggregator",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15, options=W.TestTimeOptions(attention=[DENSE, TOPK])
        ),
        INVALID,
        "options.attention[1]",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15,
            options=W.TestTimeOptions(
                attention=[W.AttentionChoice(attention=2, kv_budget_tokens=0)]
            ),
        ),
        INVALID,
        "options.attention[0]",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(budget_flops=1e15, options={"serving": {"kv_dtype": 42}}),
        INVALID,
        "options.serving.kv_dtype",
    ),
    (
        "FrontierTestTime",
        P.FrontierTestTimeRequest(budgets=[1e15], unit=W.COST_UNIT_GPU_HOURS),
        INVALID,
        "unit",
    ),
    (
        "FrontierTestTime",
        P.FrontierTestTimeRequest(budgets=[1e15], options={"hardware": "tpu"}),
        NOT_FOUND,
        "options.hardware",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(budget=1e6, options={"queries": 1, "law_name": "hoffmann2022"}),
        INVALID,
        "options.law_name",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(budget=1e6, options={"queries": 1, "unit": W.COST_UNIT_SECONDS}),
        INVALID,
        "options.unit",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(target_accuracy=1.5, options={"queries": 1}),
        INVALID,
        "target_accuracy",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(budget=1e6, options={"queries": 1, "kappa": -1}),
        INVALID,
        "options.kappa",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(budget=1e6, options={"queries": 1, "family": "gpt"}),
        NOT_FOUND,
        "options.family",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(
            budget=1e6,
            options={
                "queries": 1,
                "custom_law": {
                    "name": "x",
                    "irreducible_loss": 2,
                    "params_coefficient": 100,
                    "tokens_coefficient": 100,
                    "params_exponent": 0.3,
                    "tokens_exponent": 0.3,
                    "error_law": {"eps": 0.9, "k": -1, "gamma": 1},
                },
            },
        ),
        INVALID,
        "options.custom_law.error_law.k",
    ),
    (
        "FrontierJoint",
        P.FrontierJointRequest(budgets=[1e6], options={"queries": 1, "serving": {"batch_mode": 9}}),
        INVALID,
        "options.serving.batch_mode",
    ),
    ("GetLaw", P.GetLawRequest(name="chinchilla"), NOT_FOUND, "name"),
    # Issue 11 item 6: each of these was INTERNAL, unindexed, or accepted.
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15,
            options=W.TestTimeOptions(
                attention=[
                    DENSE,
                    W.AttentionChoice(attention=cost_pb2.ATTENTION_TOPK, kv_budget_tokens=-5),
                ]
            ),
        ),
        INVALID,
        "options.attention[1]",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15,
            options=W.TestTimeOptions(attention=[DENSE, W.AttentionChoice(kv_budget_tokens=64)]),
        ),
        INVALID,
        "options.attention[1]",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(
            budget=1e6,
            options=W.JointOptions(
                queries=1,
                attention=[
                    DENSE,
                    DENSE,
                    W.AttentionChoice(
                        attention=cost_pb2.ATTENTION_BLOCK_TOPK,
                        kv_budget_tokens=64,
                        block_size_tokens=math.nan,
                    ),
                ],
            ),
        ),
        INVALID,
        "options.attention[2]",
    ),
    (
        "FrontierJoint",
        P.FrontierJointRequest(
            budgets=[1e6],
            options=W.JointOptions(
                queries=1,
                attention=[
                    W.AttentionChoice(
                        attention=cost_pb2.ATTENTION_BLOCK_TOPK,
                        kv_budget_tokens=64,
                        block_size_tokens=128,
                    )
                ],
            ),
        ),
        INVALID,
        "options.attention[0]",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15, options=W.TestTimeOptions(measured_accuracy=ROWS_4_BIG_N)
        ),
        INVALID,
        "options.measured_accuracy.rows[3].n",
    ),
    (
        "FrontierTestTime",
        P.FrontierTestTimeRequest(
            budgets=[1e15], options=W.TestTimeOptions(measured_accuracy=ROWS_4_BIG_C)
        ),
        INVALID,
        "options.measured_accuracy.rows[3].c",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15,
            options=W.TestTimeOptions(models=["qwen3-8b"], measured_accuracy=ROWS_OTHER_MODEL),
        ),
        INVALID,
        "options.measured_accuracy.rows[1].model",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15,
            options=W.TestTimeOptions(family="qwen3-dense", measured_accuracy=ROWS_OTHER_MODEL),
        ),
        INVALID,
        "options.measured_accuracy.rows[1].model",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(budget=1e6, options={"queries": 1, "train_usd_per_hour": math.nan}),
        INVALID,
        "options.train_usd_per_hour",
    ),
    (
        "PlanJoint",
        P.PlanJointRequest(budget=1e6, options={"queries": 1, "hill": math.inf}),
        INVALID,
        "options.hill",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(
            target_loss=2.2, queries=1e9, prompt_tokens=128, gen_tokens=512, infer_usd_per_hour=-3
        ),
        INVALID,
        "infer_usd_per_hour",
    ),
    (
        "PlanLifetime",
        P.PlanLifetimeRequest(
            target_loss=2.2, queries=1e9, prompt_tokens=128, gen_tokens=512, train_mfu=math.inf
        ),
        INVALID,
        "train_mfu",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(budget_flops=1e15, options={"usd_per_hour": -1}),
        INVALID,
        "options.usd_per_hour",
    ),
    (
        "PlanTestTime",
        P.PlanTestTimeRequest(
            budget_flops=1e15, options={"serving": {"batch_sequences": math.nan}}
        ),
        INVALID,
        "options.serving.batch_sequences",
    ),
]


@pytest.mark.parametrize(
    ("rpc", "request_message", "code", "path"),
    BAD_REQUESTS,
    ids=[f"{rpc}-{path}" for rpc, _, _, path in BAD_REQUESTS],
)
def test_bad_planner_input_names_the_request_field(
    channel: grpc.Channel, rpc: str, request_message: Any, code: str, path: str
) -> None:
    exc = call_error(getattr(stub(channel), rpc), request_message)
    assert exc.code() == getattr(grpc.StatusCode, code), exc.details()
    status, bad, info = details(exc)
    assert [v.field for v in bad.field_violations] == [path], status.message
    assert resolves(request_message.DESCRIPTOR, path), path
    assert bad.field_violations[0].description and info.domain == "scaleplan"
    assert status.message == exc.details()


def test_bad_budget_mid_frontier_names_its_index(channel: grpc.Channel) -> None:
    budgets = [1e13, 1e14, 1e15, 1e16, 1e17, math.nan, 1e18]
    request = planner_pb2.FrontierTestTimeRequest(budgets=budgets, chunk_points=2)
    received: list[Any] = []
    with pytest.raises(grpc.RpcError) as caught:
        read_into(received, stub(channel).FrontierTestTime(request, timeout=TIMEOUT_S))
    assert [m.start_index for m in received] == [0, 2]  # the chunks before the bad one
    status, bad, info = details(caught.value)
    assert bad.field_violations[0].field == "budgets[5]"
    assert dict(info.metadata) == {"argument": "budget", "index": "5"}
    assert status.message.startswith("budgets[5]: ") and "element" not in status.message


def test_too_many_budgets_are_refused_before_any_work(
    server: ServerThread, channel: grpc.Channel
) -> None:
    assert server.server is not None
    before = server.server.metrics.chunks(FRONTIER_JOINT)
    request = planner_pb2.FrontierJointRequest(
        budgets=np.geomspace(1e4, 1e7, MAX_BUDGETS + 1), options={"queries": 1}
    )
    exc = call_error(stub(channel).FrontierJoint, request)
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, bad, info = details(exc)
    assert bad.field_violations[0].field == "budgets" and info.reason == "LIMIT_EXCEEDED"
    assert (info.metadata["limit"], info.metadata["got"]) == (str(MAX_BUDGETS), "1001")
    assert server.server.metrics.chunks(FRONTIER_JOINT) == before


def test_client_raises_the_python_api_exceptions(client: sp.Client) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        client.frontier_test_time(budgets=[1e13, math.nan])
    assert (info.value.field, info.value.index) == ("budget", 1)
    with pytest.raises(errors.InvalidArgumentError) as python:
        sp.frontier_test_time(budgets=[1e13, math.nan])
    assert (python.value.field, python.value.index) == ("budget", 1)
    with pytest.raises(errors.UnknownNameError) as unknown:
        client.plan_joint(budget=1e6, queries=1, law="chinchilla")
    assert unknown.value.name == "chinchilla" and "gadre2024-redpajama" in unknown.value.known
    with pytest.raises(errors.UnknownNameError) as train:
        client.plan_lifetime(
            target_loss=2.2, queries=1, prompt_tokens=1, gen_tokens=1, train_hardware="tpu"
        )
    assert train.value.field == "train_hardware" and train.value.name == "tpu"
    with pytest.raises(errors.InvalidArgumentError) as kappa:
        client.plan_joint(budget=1e6, queries=1, kappa=0)
    assert kappa.value.field == "kappa"
    with pytest.raises(errors.LimitExceededError):
        client.frontier_joint(budgets=np.ones(MAX_BUDGETS + 1), queries=1)
    # Refused by the client, naming the argument, as the Python API would.
    with pytest.raises(errors.InvalidArgumentError) as two:
        client.plan_test_time(budget_eflops=1e13, budget_usd=1.0)
    assert two.value.field == "budget"
    with pytest.raises(errors.InvalidArgumentError) as measured:
        client.plan_test_time(budget_eflops=1e13, accuracy=Accuracy.measured(EVAL_CSV))
    assert measured.value.field == "accuracy"
    with pytest.raises(errors.InvalidArgumentError) as attention:
        client.plan_joint(budget=1e6, queries=1, attention=["dense", ["topk", 8]])  # type: ignore[list-item]
    assert (attention.value.field, attention.value.index) == ("attention", 1)
    with pytest.raises(errors.InvalidArgumentError) as array:
        client.plan_training(budget_flops=[1e20, 1e21])  # type: ignore[arg-type]
    assert array.value.field == "budget_flops"


# ---- deadlines and cancellation reach the frontier ----


def _settled_chunks(server: ServerThread, code: str) -> int:
    """Wait until the call ended with ``code``; return the chunks solved, checking that at most
    the one in the pool when it ended (a joint chunk is ~10-50 ms) was finished after it."""
    assert server.server is not None
    metrics = server.server.metrics
    assert wait_until(lambda: metrics.handled(FRONTIER_JOINT, code) >= 1), metrics.render()
    assert wait_until(lambda: metrics.in_flight(FRONTIER_JOINT) == 0)
    ended = metrics.chunks(FRONTIER_JOINT)
    time.sleep(0.2)
    settled = metrics.chunks(FRONTIER_JOINT)
    assert settled - ended <= 1, "the server kept solving chunks"
    time.sleep(0.2)
    assert metrics.chunks(FRONTIER_JOINT) == settled, "the server kept solving chunks"
    return settled


def long_joint_frontier() -> planner_pb2.FrontierJointRequest:
    """Hundreds of joint plans one per message: seconds of work."""
    return planner_pb2.FrontierJointRequest(
        budgets=np.geomspace(1e4, 1e7, MAX_BUDGETS), options={"queries": 1e9}, chunk_points=1
    )


def test_deadline_expiring_mid_frontier_stops_the_work(server: ServerThread) -> None:
    assert server.server is not None
    before = server.server.metrics.chunks(FRONTIER_JOINT)
    received: list[Any] = []
    with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError) as caught:
        read_into(received, stub(channel).FrontierJoint(long_joint_frontier(), timeout=0.3))
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert received  # it expired mid-stream
    assert [m.start_index for m in received] == list(range(len(received)))
    computed = _settled_chunks(server, "DEADLINE_EXCEEDED") - before
    assert len(received) <= computed < MAX_BUDGETS // 4


def test_cancelled_frontier_stops_the_work(server: ServerThread) -> None:
    assert server.server is not None
    before = server.server.metrics.chunks(FRONTIER_JOINT)
    with grpc.insecure_channel(server.target) as channel:
        call = stub(channel).FrontierJoint(long_joint_frontier(), timeout=TIMEOUT_S)
        for i, _ in enumerate(call):
            if i == 2:
                call.cancel()
                break
    computed = _settled_chunks(server, "CANCELLED") - before
    assert 3 <= computed < MAX_BUDGETS // 4


# ---- the contract stays in step with the Python API ----


@pytest.mark.parametrize(
    ("cls", "message", "renames"),
    [
        (sp.TrainingPlan, plan_pb2.TrainingPlan, conversions.TRAINING_PLAN_FIELDS),
        (sp.LifetimePlan, plan_pb2.LifetimePlan, conversions.LIFETIME_PLAN_FIELDS),
        (sp.TestTimePlan, plan_pb2.TestTimePlan, conversions.TEST_TIME_PLAN_FIELDS),
        (sp.TestTimePlan, plan_pb2.TestTimePlanColumns, conversions.TEST_TIME_PLAN_FIELDS),
        (sp.JointPlan, plan_pb2.JointPlan, conversions.JOINT_PLAN_FIELDS),
        (sp.JointPlan, plan_pb2.JointPlanColumns, conversions.JOINT_PLAN_FIELDS),
        (sp.LossLaw, catalog_pb2.Law, conversions.LAW_FIELDS),
        (sp.ErrorLaw, catalog_pb2.ErrorLaw, {}),
    ],
)
def test_every_plan_field_crosses_the_wire(
    cls: type, message: Any, renames: dict[str, str]
) -> None:
    python = {renames.get(f.name, f.name) for f in dataclasses.fields(cls) if f.init}
    assert python == set(message.DESCRIPTOR.fields_by_name)


def test_plan_enums_cover_the_python_options() -> None:
    constraints = plan_pb2.PlanConstraint.DESCRIPTOR.values[1:]
    assert [
        conversions.enum_text(plan_pb2.PlanConstraint, v.number, "x") for v in constraints
    ] == list(sp._core.CONSTRAINTS)
    units = {
        conversions.enum_text(plan_pb2.CostUnit, v.number, "x")
        for v in plan_pb2.CostUnit.DESCRIPTOR.values[1:]
    }
    test_time_units = inspect.signature(sp.frontier_test_time).parameters["unit"].annotation
    assert units == set(sp.plan.Unit.__args__) | {"seconds", "gpu_seconds"}
    assert "seconds" in test_time_units
    assert set(sp.agent.AgentUnit.__args__) <= units  # type: ignore[attr-defined]
    aggregators = plan_pb2.AccuracyAggregator.DESCRIPTOR.values[1:]
    assert [
        conversions.enum_text(plan_pb2.AccuracyAggregator, v.number, "x") for v in aggregators
    ] == (list(sp.testtime.Aggregator.__args__))


def test_budget_error_without_an_index_is_located() -> None:
    """A planner error about "the budget" of a chunk that names no element is pinned on the
    first budget failing alone (budgets[i]), not on the whole repeated field."""
    solved: list[list[float]] = []

    def solve(budgets: Any, start: int, total: int) -> list[float]:
        solved.append(list(budgets))
        if 13.0 in budgets:
            raise sp.errors.InvalidArgumentError("budget: unlucky", field="budget")
        return list(budgets)

    budgets = [1.0, 2.0, 3.0, 4.0, 5.0, 13.0, 7.0]
    chunks = list(sp.sweep.budget_chunks(budgets, 4, solve))  # chunks [0, 4) and [4, 7)
    assert chunks[0]() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(sp.errors.InvalidArgumentError) as caught:
        chunks[1]()
    assert (caught.value.field, caught.value.index) == ("budget", 5)
    assert caught.value.message == "budget: unlucky"  # the index is data, not text
    assert str(caught.value) == "element 5: budget: unlucky"
    path = server_errors.field_path(
        "budget", 5, conversions.frontier_joint_paths(planner_pb2.FrontierJointRequest())
    )
    assert path == "budgets[5]"


def test_sub_field_of_an_element_takes_the_index_after_the_element() -> None:
    paths = {"rows": "options.measured_accuracy.rows"}
    assert server_errors.field_path("rows.n", 3, paths) == "options.measured_accuracy.rows[3].n"
    assert server_errors.field_path("rows[3].n", None, paths) == (
        "options.measured_accuracy.rows[3].n"
    )
    assert server_errors.field_path("rows", 2, paths) == "options.measured_accuracy.rows[2]"
