"""FitLaw over gRPC: the same fit as the Python API (Client.fit_law), the law usable by
PlanTraining as custom_law, and bad input named by request field."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import scaleplan as sp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.v1 import planner_pb2


def runs(n_runs: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.0, 10.0, n_runs)
    d = 10 ** rng.uniform(9.0, 12.0, n_runs)
    return n, d, sp.law("besiroglu2024").loss(n, d) * np.exp(rng.normal(0.0, 0.02, n_runs))


def test_client_fit_law_is_the_local_fit(server: ServerThread) -> None:
    n, d, y = runs()
    local = sp.fit_law(n, d, y, bootstrap=40, seed=2)
    with sp.Client(server.target) as client:
        remote = client.fit_law(n, d, y, bootstrap=40, seed=2)
    assert remote.converged and remote.estimate == local.estimate
    assert remote.law == local.law
    np.testing.assert_array_equal(remote.samples, local.samples)
    np.testing.assert_array_equal(remote.residuals, local.residuals)
    assert remote.interval(0.9) == local.interval(0.9)
    assert remote.stderr == local.stderr


def test_fit_law_response_feeds_plan_training(channel: grpc.Channel) -> None:
    n, d, y = runs(seed=1)
    request = planner_pb2.FitLawRequest(
        runs=[planner_pb2.Run(params=a, tokens=b, loss=c) for a, b, c in zip(n, d, y, strict=True)],
        bootstrap=30,
        seed=5,
        level=0.8,
    )
    response = stub(channel).FitLaw(request, timeout=TIMEOUT_S)
    fit = sp.fit_law(n, d, y, bootstrap=30, seed=5)
    assert response.converged and response.n_points == 50 and response.level == 0.8
    lo, hi = fit.interval(0.8)["alpha"]
    assert response.params_exponent.lower == lo and response.params_exponent.upper == hi
    assert response.irreducible_loss.stderr == fit.stderr["E"]  # type: ignore[index]
    plan = stub(channel).PlanTraining(
        planner_pb2.PlanTrainingRequest(budget_flops=1e22, custom_law=response.law),
        timeout=TIMEOUT_S,
    )
    want = sp.plan_training(budget_flops=1e22, law=fit.law)
    assert plan.plan.params == pytest.approx(want.params, rel=1e-12)


def test_no_bootstrap_has_no_interval(channel: grpc.Channel) -> None:
    n, d, y = runs(seed=2)
    request = planner_pb2.FitLawRequest(
        runs=[planner_pb2.Run(params=a, tokens=b, loss=c) for a, b, c in zip(n, d, y, strict=True)]
    )
    response = stub(channel).FitLaw(request, timeout=TIMEOUT_S)
    assert response.covariance_source == "gauss-newton"
    assert response.tokens_exponent.HasField("stderr")
    assert not response.tokens_exponent.HasField("lower")
    assert len(response.samples) == 0 and len(response.covariance) == 25


def bad_field(channel: grpc.Channel, request: planner_pb2.FitLawRequest) -> str:
    with pytest.raises(grpc.RpcError) as err:
        stub(channel).FitLaw(request, timeout=TIMEOUT_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return str(bad.field_violations[0].field)


def test_bad_input_names_the_request_field(channel: grpc.Channel) -> None:
    good = [planner_pb2.Run(params=1e8 * (k + 1), tokens=1e10, loss=3.0) for k in range(8)]
    few = planner_pb2.FitLawRequest(runs=good[:3])
    assert bad_field(channel, few) == "runs"
    broken = list(good)
    broken[4] = planner_pb2.Run(params=1e8, tokens=-1.0, loss=3.0)
    assert bad_field(channel, planner_pb2.FitLawRequest(runs=broken)) == "runs[4].tokens"
    broken[4] = planner_pb2.Run(params=1e8, tokens=1e10, loss=float("nan"))
    assert bad_field(channel, planner_pb2.FitLawRequest(runs=broken)) == "runs[4].loss"
    assert bad_field(channel, planner_pb2.FitLawRequest(runs=good, delta=0.0)) == "delta"
    assert bad_field(channel, planner_pb2.FitLawRequest(runs=good, bootstrap=10**6)) == "bootstrap"
    assert bad_field(channel, planner_pb2.FitLawRequest(runs=good, form="x")) == "form"
    assert bad_field(channel, planner_pb2.FitLawRequest(runs=good, level=1.0)) == "level"
