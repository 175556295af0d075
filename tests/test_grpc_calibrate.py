"""Calibrate over gRPC: the same calibration as the Python API (Client.calibrate), and bad input
named by request field (docs/calibration.md)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import scaleplan as sp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.v1 import planner_pb2

from tests.test_calibrate import EXAMPLE, rows, truth


def test_client_calibrate_is_the_local_calibration(server: ServerThread) -> None:
    local = sp.calibrate(EXAMPLE, "h100-sxm")
    with sp.Client(server.target) as client:
        remote = client.calibrate(EXAMPLE, "h100-sxm")
    assert remote.hardware == local.hardware
    assert remote.parameters == local.parameters and remote.stderr == local.stderr
    assert remote.at_bound == local.at_bound and remote.n_runs == local.n_runs == 6
    np.testing.assert_array_equal(remote.residuals["ttft"], local.residuals["ttft"])
    np.testing.assert_array_equal(remote.predicted["tpot_s"], local.predicted["tpot_s"])
    assert remote.rms_relative_error == local.rms_relative_error


def run_messages(n: int = 8) -> list[planner_pb2.ServingRun]:
    return [
        planner_pb2.ServingRun(
            model=r["model"],
            batch_sequences=r["batch"],
            prompt_tokens=r["prompt_tokens"],
            gen_tokens=r["gen_tokens"],
            ttft_s=r["ttft_s"],
            tpot_s=r["tpot_s"],
        )
        for r in rows(truth())[:n]
    ]


def test_response_hardware_prices(channel: grpc.Channel) -> None:
    request = planner_pb2.CalibrateRequest(runs=run_messages(), hardware="h100-sxm", name="mine")
    response = stub(channel).Calibrate(request, timeout=TIMEOUT_S)
    assert response.hardware.name == "mine"
    assert response.decode_bw_util.estimate == pytest.approx(0.7, rel=1e-6)
    assert response.step_overhead_s.estimate == pytest.approx(0.004, rel=1e-6)
    assert len(response.ttft_relative) == 8


def bad_field(
    channel: grpc.Channel,
    request: planner_pb2.CalibrateRequest,
    code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT,
) -> str:
    with pytest.raises(grpc.RpcError) as err:
        stub(channel).Calibrate(request, timeout=TIMEOUT_S)
    assert err.value.code() == code
    status = rpc_status.from_call(err.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return str(bad.field_violations[0].field)


def test_bad_input_names_the_request_field(channel: grpc.Channel) -> None:
    good = run_messages()

    def request(**kw: object) -> planner_pb2.CalibrateRequest:
        return planner_pb2.CalibrateRequest(**{"runs": good, "hardware": "h100-sxm", **kw})

    assert bad_field(channel, request(runs=good[:2])) == "runs"
    broken = list(good)
    broken[3] = planner_pb2.ServingRun(**{**_fields(good[3]), "ttft_s": -1.0})
    assert bad_field(channel, request(runs=broken)) == "runs[3].ttft_s"
    broken[3] = planner_pb2.ServingRun(**{**_fields(good[3]), "batch_sequences": 2.5})
    assert bad_field(channel, request(runs=broken)) == "runs[3].batch_sequences"
    broken[3] = planner_pb2.ServingRun(**{**_fields(good[3]), "model": "nope"})
    # Unknown catalog names are NOT_FOUND, still naming the field.
    missing = grpc.StatusCode.NOT_FOUND
    assert bad_field(channel, request(runs=broken), missing) == "runs[3].model"
    assert bad_field(channel, request(hardware="tpu-v9"), missing) == "hardware"
    assert bad_field(channel, request(model="nope"), missing) == "model"
    assert bad_field(channel, request(name="Bad Name")) == "name"
    assert bad_field(channel, request(runs=[good[2]] * 4)) in {
        "prefill_mfu",
        "decode_bw_util",
        "step_overhead_s",
    }


def _fields(run: planner_pb2.ServingRun) -> dict[str, object]:
    return {f.name: v for f, v in run.ListFields()}
