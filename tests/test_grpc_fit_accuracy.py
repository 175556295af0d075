"""FitAccuracy over gRPC: the same fit as the Python API (Client.fit_accuracy), the fit usable
by PlanTestTime as accuracy_fit, and bad input named by request field."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
import scaleplan as sp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.grpc import conversions
from scaleplan.v1 import plan_pb2, planner_pb2

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_eval.csv"


def eval_rows(counts: list[tuple[int, int]], gen_tokens: float = 4096) -> list[plan_pb2.EvalRow]:
    return [
        plan_pb2.EvalRow(model="qwen3-8b", gen_tokens=gen_tokens, problem=f"p{i}", n=n, c=c)
        for i, (n, c) in enumerate(counts)
    ]


def test_client_fit_accuracy_is_the_local_fit(server: ServerThread) -> None:
    local = sp.fit_accuracy(EXAMPLE, bootstrap=40, seed=2)
    with sp.Client(server.target) as client:
        remote = client.fit_accuracy(EXAMPLE, bootstrap=40, seed=2)
        plan = client.plan_test_time(budget_eflops=1e17, accuracy=remote)
    assert remote.name == local.name == "synthetic_eval.csv" and remote.rows == 450
    for x, y in zip(remote.fits, local.fits, strict=True):
        assert (x.model, x.gen_tokens, x.a, x.b, x.eval_samples) == (
            y.model,
            y.gen_tokens,
            y.a,
            y.b,
            y.eval_samples,
        )
        np.testing.assert_array_equal(x.samples, y.samples)
    assert remote.interval(0.9) == local.interval(0.9)
    want = sp.plan_test_time(budget_eflops=1e17, accuracy=local)
    assert plan.samples == want.samples and plan.accuracy == want.accuracy
    assert plan.eval_samples == 16 and plan.extrapolated_samples


def test_fit_accuracy_response_feeds_plan_test_time(channel: grpc.Channel) -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 1.0, 200)
    counts = [(16, int(c)) for c in rng.binomial(16, p)]
    response = stub(channel).FitAccuracy(
        planner_pb2.FitAccuracyRequest(rows=eval_rows(counts), bootstrap=0), timeout=TIMEOUT_S
    )
    (fit,) = response.fit.fits
    assert fit.converged and fit.HasField("a") and len(fit.samples) == 0
    assert response.fit.name == "rows"
    options = plan_pb2.TestTimeOptions(accuracy_fit=response.fit, models=["qwen3-8b"], k_max=128)
    got = stub(channel).PlanTestTime(
        planner_pb2.PlanTestTimeRequest(budget_eflops=1e17, options=options), timeout=TIMEOUT_S
    )
    local = sp.fit_accuracy(
        [
            {"model": "qwen3-8b", "gen_tokens": 4096, "problem": f"p{i}", "n": n, "c": c}
            for i, (n, c) in enumerate(counts)
        ],
        bootstrap=0,
    )
    want = sp.plan_test_time(budget_eflops=1e17, accuracy=local, models=["qwen3-8b"], k_max=128)
    assert conversions.test_time_plan_from(got.plan) == want
    assert got.plan.eval_samples == 16 and got.plan.task == "fitted:rows"


def bad_field(channel: grpc.Channel, call: str, request: object) -> str:
    with pytest.raises(grpc.RpcError) as err:
        getattr(stub(channel), call)(request, timeout=TIMEOUT_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return str(bad.field_violations[0].field)


def test_bad_input_names_the_request_field(channel: grpc.Channel) -> None:
    rows = eval_rows([(8, 1), (8, 3), (8, 0), (8, 5)])
    rows[2].c = 9
    assert bad_field(channel, "FitAccuracy", planner_pb2.FitAccuracyRequest(rows=rows)) == (
        "rows[2].c"
    )
    rows[2].c = 0
    rows[1].n = 2**33
    assert bad_field(channel, "FitAccuracy", planner_pb2.FitAccuracyRequest(rows=rows)) == (
        "rows[1].n"
    )
    rows[1].n = 8
    too_many = planner_pb2.FitAccuracyRequest(rows=rows, bootstrap=10_001)
    assert bad_field(channel, "FitAccuracy", too_many) == "bootstrap"
    assert bad_field(channel, "FitAccuracy", planner_pb2.FitAccuracyRequest()) == "rows"
    # a fit without convergence cannot plan
    wrong = stub(channel).FitAccuracy(
        planner_pb2.FitAccuracyRequest(rows=eval_rows([(8, 0)] * 6)), timeout=TIMEOUT_S
    )
    assert not wrong.fit.fits[0].converged and not wrong.fit.fits[0].HasField("a")
    options = plan_pb2.TestTimeOptions(accuracy_fit=wrong.fit)
    request = planner_pb2.PlanTestTimeRequest(budget_eflops=1e16, options=options)
    assert bad_field(channel, "PlanTestTime", request) == "options.accuracy_fit"


def test_a_malformed_fit_in_a_plan_request_names_accuracy_fit(channel: grpc.Channel) -> None:
    good = plan_pb2.FittedAccuracy(
        model="qwen3-8b",
        gen_tokens=4096,
        problems=10,
        eval_samples=8,
        pass1=0.3,
        a=0.3,
        b=0.7,
        converged=True,
    )
    for change in ({"gen_tokens": -1.0}, {"a": -0.5}, {"eval_samples": 0}, {"b": float("nan")}):
        bad = plan_pb2.FittedAccuracy()
        bad.CopyFrom(good)
        for key, value in change.items():
            setattr(bad, key, value)
        options = plan_pb2.TestTimeOptions(accuracy_fit=plan_pb2.AccuracyFit(fits=[bad]))
        request = planner_pb2.PlanTestTimeRequest(budget_eflops=1e16, options=options)
        assert bad_field(channel, "PlanTestTime", request) == "options.accuracy_fit", change
    empty = plan_pb2.TestTimeOptions(accuracy_fit=plan_pb2.AccuracyFit())
    request = planner_pb2.PlanTestTimeRequest(budget_eflops=1e16, options=empty)
    assert bad_field(channel, "PlanTestTime", request) == "options.accuracy_fit"
