"""The training planner's start offset (algorithmic progress, Ho et al. 2024,
arXiv:2403.05812; docs/planning.md, "Training later: algorithmic progress") through the façade,
the CLI and gRPC, and the hardware catalog's prices over gRPC."""

from __future__ import annotations

import json
import math

import grpc
import numpy as np
import pytest
import scaleplan as sp
from cli_support import json_lines, ok, run, usage_error
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan import errors
from scaleplan.plan import ALGORITHMIC_PROGRESS, MAX_START_IN_MONTHS
from scaleplan.v1 import planner_pb2

# By hand: 6 / 8.44 = 0.7109005, 2^0.7109005 = 1.63683 (2^0.7 = 1.6245048 times
# 2^0.0109005 = 1.0075845); the ends 2^(6/14.27) = 1.33836 and 2^(6/4.52) = 2.50956.
SIX_MONTHS = 1.63683
SIX_SLOW, SIX_FAST = 1.33836, 2.50956


def test_the_table_is_ho_et_al_2024() -> None:
    p = ALGORITHMIC_PROGRESS
    assert (p["halving_months"], p["halving_months_fast"], p["halving_months_slow"]) == (
        8.44,
        4.52,
        14.27,
    )
    assert "arXiv:2403.05812" in p["source"]
    assert MAX_START_IN_MONTHS == 120.0


def test_six_months_multiply_the_budget_and_keep_physical_compute() -> None:
    later = sp.plan_training(budget_flops=1e22, law="hoffmann2022", start_in_months=6)
    assert later.compute_multiplier == pytest.approx(SIX_MONTHS, rel=1e-5)
    assert later.compute_multiplier_slow == pytest.approx(SIX_SLOW, rel=1e-5)
    assert later.compute_multiplier_fast == pytest.approx(SIX_FAST, rel=1e-5)
    assert later.compute_flops == 1e22
    assert later.effective_compute_flops == pytest.approx(1e22 * SIX_MONTHS, rel=1e-5)
    # The plan at the offset is the plan at the scaled budget, from today's law.
    scaled = sp.plan_training(budget_flops=1e22 * 2 ** (6 / 8.44), law="hoffmann2022")
    for f in ("params", "tokens", "loss", "tokens_per_param"):
        assert getattr(later, f) == pytest.approx(getattr(scaled, f), rel=1e-12), f
    assert later.effective_compute_flops == pytest.approx(6 * later.params * later.tokens)
    # The band: the plans at the interval's ends, ordered around the central one.
    assert later.loss_fast < later.loss < later.loss_slow
    slow = sp.plan_training(budget_flops=1e22 * 2 ** (6 / 14.27), law="hoffmann2022")
    assert later.loss_slow == pytest.approx(slow.loss, rel=1e-12)
    assert later.compute_flops_slow == later.compute_flops_fast == 1e22


def test_now_is_today_and_a_target_costs_less_later() -> None:
    now = sp.plan_training(budget_flops=np.array([1e20, 1e23]))
    plain = sp.plan_training(budget_flops=np.array([1e20, 1e23]), start_in_months=0.0)
    for f in ("params", "tokens", "loss", "compute_flops", "effective_compute_flops"):
        assert np.array_equal(getattr(now, f), getattr(plain, f)), f
    assert np.all(now.compute_multiplier == 1.0)
    today = sp.plan_training(target_loss=2.2)
    later = sp.plan_training(target_loss=2.2, start_in_months=6)
    assert later.compute_flops == pytest.approx(today.compute_flops / SIX_MONTHS, rel=1e-5)
    assert later.compute_flops_fast < later.compute_flops < later.compute_flops_slow
    assert later.loss_slow == later.loss_fast == later.loss
    assert "Starting later" in later.explain() and "Starting later" not in today.explain()


@pytest.mark.parametrize("months", [-1.0, 120.5, math.nan, math.inf, "6", True])
def test_bad_months_are_errors_naming_start_in_months(months: object) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_training(budget_flops=1e21, start_in_months=months)  # type: ignore[arg-type]
    assert info.value.field == "start_in_months"


def test_cli_start_in() -> None:
    out = ok("plan", "training", "--budget", "1e22flops", "--start-in", "6", "--json")
    row = json_lines(out.stdout)[0]
    want = sp.plan_training(budget_flops=1e22, start_in_months=6)
    assert row["compute_multiplier"] == pytest.approx(SIX_MONTHS, rel=1e-5)
    assert row["loss"] == pytest.approx(want.loss, rel=1e-12)
    assert row["effective_compute_flops"] == pytest.approx(want.effective_compute_flops)
    table = ok("plan", "training", "--budget", "1e22flops", "--start-in", "6").stdout
    assert "starting in 6 months" in table and "effective compute" in table
    usage_error(run("plan", "training", "--budget", "1e22flops", "--start-in", "200"), "--start-in")
    usage_error(run("plan", "training", "--budget", "1e22flops", "--start-in", "x"), "--start-in")
    helptext = ok("plan", "training", "--help").stdout
    assert "--start-in MONTHS" in helptext and "default: 0, now" in helptext


def test_grpc_start_in_months_and_bad_months(server: ServerThread) -> None:
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        for kw in ({"budget_flops": 1e22}, {"target_loss": 2.2}):
            got = client.plan_training(**kw, start_in_months=6.0)
            assert got == sp.plan_training(**kw, start_in_months=6.0)
        with pytest.raises(errors.InvalidArgumentError) as info:
            client.plan_training(budget_flops=1e21, start_in_months=-3.0)
        assert info.value.field == "start_in_months"
    with grpc.insecure_channel(server.target) as channel:
        request = planner_pb2.PlanTrainingRequest(budget_flops=1e21, start_in_months=121)
        with pytest.raises(grpc.RpcError) as exc:
            stub(channel).PlanTraining(request, timeout=TIMEOUT_S)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "start_in_months" in (exc.value.details() or "")
        # The catalog listing carries each price with its date and source.
        listing = stub(channel).ListCatalog(planner_pb2.ListCatalogRequest(), timeout=TIMEOUT_S)
        h100 = next(h for h in listing.hardware if h.name == "h100-sxm")
        local = sp.hardware("h100-sxm")
        assert h100.usd_per_hour == local.usd_per_hour
        assert h100.price_date == local.price_date and h100.price_source == local.price_source
        gaudi = next(h for h in listing.hardware if h.name == "gaudi3")
        assert not gaudi.HasField("usd_per_hour") and gaudi.price_date == ""


def test_cli_catalog_lists_the_progress_table() -> None:
    out = ok("catalog", "progress").stdout
    assert "ho2024" in out and "8.44 months" in out and "4.52 to 14.27 months" in out
    assert "arXiv:2403.05812" in out
    row = json.loads(ok("catalog", "progress", "--json").stdout)["progress"][0]
    assert row == {k: ALGORITHMIC_PROGRESS[k] for k in row}


def test_cli_catalog_lists_prices_with_their_dates() -> None:
    out = ok("catalog", "hardware").stdout
    h100 = sp.hardware("h100-sxm")
    line = next(ln for ln in out.splitlines() if ln.startswith("h100-sxm"))
    assert f"{h100.usd_per_hour:.2f}" in line and h100.price_date in line
    assert "price date" in out
    doc = json.loads(ok("catalog", "hardware", "--json").stdout)
    entry = next(e for e in doc["hardware"] if e["name"] == "h100-sxm")
    assert entry["price_source"] == h100.price_source
