"""Issue 11 over gRPC: a call's deadline, the client's cancel and the server's stop reach the
Rust loops through the call's cancellation token (docs/limits.md), so a stopped call frees its
worker within ~0.1 s and is DEADLINE_EXCEEDED or CANCELLED, never INTERNAL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from grpc_support import ServerThread, stub
from scaleplan.v1 import planner_pb2

# How late a stopped call may free its worker. The loops poll the token every few microseconds
# of work, so the true figure is ~1-10 ms; the bound is generous because this suite runs on a
# 2-core machine shared with builds, where a thread may wait ~100 ms for a core. On main the
# worker stayed busy for the rest of the work (10.3 s for a 1000-point FrontierJoint chunk).
LATE_S = 0.5


@pytest.fixture(scope="module")
def one_worker() -> Iterator[ServerThread]:
    # One pool thread: a call that keeps computing after its deadline blocks the next call,
    # which is how these tests see when the core stopped.
    with ServerThread(workers=1) as s:
        yield s


def _next_call_waits(target: str) -> float:
    """Seconds until a quick call (in the same single worker) completes."""
    start = time.perf_counter()
    with grpc.insecure_channel(target) as channel:
        stub(channel).PlanTraining(planner_pb2.PlanTrainingRequest(budget_flops=1e23), timeout=60)
    return time.perf_counter() - start


def test_frontier_joint_chunk_stops_at_its_deadline(one_worker: ServerThread) -> None:
    # chunk_points 1000 of 0.1 s budgets: on main the chunk ran 10.3 s past a short deadline.
    request = planner_pb2.FrontierJointRequest(
        budgets=np.geomspace(1e4, 1e8, 1000),
        chunk_points=1000,
        options={"queries": 1e8, "k_max": 1 << 20},
    )
    with grpc.insecure_channel(one_worker.target) as channel, pytest.raises(grpc.RpcError) as e:
        list(stub(channel).FrontierJoint(request, timeout=0.3))
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _next_call_waits(one_worker.target) < LATE_S


def test_unary_plan_stops_at_its_deadline(one_worker: ServerThread) -> None:
    request = planner_pb2.PlanJointRequest(
        target_accuracy=0.9, options={"queries": 1e8, "k_max": 1 << 20}
    )
    with grpc.insecure_channel(one_worker.target) as channel, pytest.raises(grpc.RpcError) as e:
        stub(channel).PlanJoint(request, timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _next_call_waits(one_worker.target) < LATE_S


def test_client_cancel_stops_a_unary_plan(one_worker: ServerThread) -> None:
    request = planner_pb2.PlanJointRequest(
        target_accuracy=0.9, options={"queries": 1e8, "k_max": 1 << 20}
    )
    with grpc.insecure_channel(one_worker.target) as channel:
        future = stub(channel).PlanJoint.future(request, timeout=60)
        time.sleep(0.3)
        future.cancel()
    assert _next_call_waits(one_worker.target) < LATE_S
    assert one_worker.server is not None
    metrics = one_worker.server.metrics
    assert metrics.handled("/scaleplan.v1.PlannerService/PlanJoint", "INTERNAL") == 0


def test_training_target_out_of_range_is_invalid_argument(one_worker: ServerThread) -> None:
    request = planner_pb2.PlanTrainingRequest(target_loss=1e100, unique_tokens=1e13)
    with grpc.insecure_channel(one_worker.target) as channel, pytest.raises(grpc.RpcError) as e:
        stub(channel).PlanTraining(request, timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_stop_ends_core_work_at_the_end_of_the_grace() -> None:
    # SIGTERM drains with a grace; at its end the calls still running are cancelled, and now
    # their core work stops too. On main (and before cancel_all) stop waited for the plan to
    # finish: 5.9 s here.
    server = ServerThread(workers=1).__enter__()
    request = planner_pb2.PlanJointRequest(
        target_accuracy=0.9, options={"queries": 1e8, "k_max": 1 << 20}
    )
    with grpc.insecure_channel(server.target) as channel:
        future = stub(channel).PlanJoint.future(request, timeout=60)
        time.sleep(0.3)
        start = time.perf_counter()
        server.stop(grace_s=0.2, timeout_s=60)
        took = time.perf_counter() - start
        with pytest.raises(grpc.RpcError):
            future.result()
    assert took < 0.2 + LATE_S, f"stop took {took:.2f} s"
