"""What a plan says about itself (issue 10, items 5, 6 and 9): where it extrapolates its law
beyond the range the law was fitted on, that a plan that does not exist has no numbers (NaN in
Python, null in JSON, an empty CSV cell, an absent gRPC field; never 0, "" or inf), and what its
"accuracy" is (task and aggregator). Through the API, the CLI and gRPC."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from cli_support import csv_rows, json_lines, ok
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan import _core, errors
from scaleplan.grpc import conversions
from scaleplan.v1 import plan_pb2, planner_pb2

# rust/core/catalog/laws.toml: the Chinchilla data (hoffmann2022, besiroglu2024, sardana2023)
# span 70M-16B parameters and 5B-500B tokens; gadre2024-redpajama 11M-6.9B parameters and 5-640
# tokens per parameter.
CHINCHILLA_PARAMS = (7e7, 1.6e10)
CHINCHILLA_TOKENS = (5e9, 5e11)
GADRE_TOKENS_PER_PARAM_MAX = 640.0

# The cost-model lifetime plan whose Chinchilla comparison model (62.2B parameters) does not fit
# one 80 GB GPU beside its KV cache (replicas pinned to one GPU): "saved vs Chinchilla: inf"
# before.
UNSERVABLE_CHINCHILLA: dict[str, Any] = {
    "target_loss": 1.9,
    "queries": 1e8,
    "prompt_tokens": 512,
    "gen_tokens": 1024,
    "hardware": "a100-80gb",
    "family": "qwen3-dense",
    "unit": "gpu_hours",
    "serving": sp.Serving(gpus=1),
    "law": "sardana2023",
}


# ---- item 5: domains of validity ----


def test_a_tiny_budget_is_flagged_below_the_fitted_range() -> None:
    """The issue's case: 1e10 FLOPs buys a 6.38k-parameter model, unflagged before."""
    p = sp.plan_training(budget_flops=1e10, law="besiroglu2024")
    assert p.params == pytest.approx(6383.68, rel=1e-5)
    by_variable = {e.variable: e for e in p.extrapolated}
    assert set(by_variable) == {"params", "tokens"}
    params = by_variable["params"]
    # By hand from the TOML: 7e7 / 6383.68 = 10965.5; D = 1e10 / (6 N) = 261083, 5e9 / D = 19151.
    assert (params.value, params.bound) == (p.params, CHINCHILLA_PARAMS[0])
    assert params.factor == pytest.approx(10965.5, rel=1e-5)
    assert by_variable["tokens"].factor == pytest.approx(19151.0, rel=1e-4)
    assert str(params) == "params 6.38e3 is 1.1e4x below the fitted 7e7"
    assert "params 6.38e3 is 1.1e4x below the fitted 7e7" in p.explain()


def test_a_hard_target_is_flagged_above_the_fitted_range() -> None:
    """The issue's case: loss 1.85 from 1e12 unique tokens takes a 2.74P-parameter model."""
    p = sp.plan_training(target_loss=1.85, unique_tokens=1e12, law="besiroglu2024")
    by_variable = {e.variable: e for e in p.extrapolated}
    params = by_variable["params"]
    assert params.bound == CHINCHILLA_PARAMS[1]
    assert params.factor == pytest.approx(p.params / 1.6e10, rel=1e-12)
    assert 1.70e5 < params.factor < 1.72e5
    # The law sees the effective tokens D' = 16.1T: 32x its 500B.
    assert by_variable["tokens"].value == p.effective_tokens
    assert by_variable["tokens"].factor == pytest.approx(p.effective_tokens / 5e11, rel=1e-12)
    assert "params 2.74e15 is 1.7e5x above the fitted 1.6e10" in p.explain()


def test_arrays_flag_each_plan_and_inside_is_empty() -> None:
    p = sp.plan_training(budget_flops=[1e10, 1e21])
    # An array goal: one table per plan (variables x value, bound, factor; NaN where in range),
    # records per plan through at().
    assert isinstance(p.extrapolated, np.ndarray)
    assert p.extrapolated.shape == (2, len(_core.EXTRAPOLATION_VARIABLES), 3)
    assert p.at(0).extrapolated == sp.plan_training(budget_flops=1e10).extrapolated
    assert np.isnan(p.extrapolated[1]).all()
    assert p.at(1).extrapolated == () and "Extrapolated" not in p.at(1).explain()


def test_custom_laws_may_carry_a_range() -> None:
    base = sp.law("besiroglu2024")
    assert base.fitted == sp.FittedRange(
        params_min=7e7, params_max=1.6e10, tokens_min=5e9, tokens_max=5e11
    )
    bare = base.replace(fitted=None)
    assert sp.plan_training(budget_flops=1e10, law=bare).extrapolated == ()
    mine = base.replace(fitted=sp.FittedRange(tokens_per_param_max=10.0, loss_min=2.5))
    p = sp.plan_training(budget_flops=1e21, law=mine)
    ratio, loss = p.extrapolated
    assert ratio == sp.Extrapolation(
        "tokens_per_param", p.tokens / p.params, 10.0, p.tokens / p.params / 10.0
    )
    assert loss.variable == "loss" and loss.factor == pytest.approx(2.5 / p.loss, rel=1e-12)
    with pytest.raises(errors.InvalidArgumentError) as info:
        base.replace(fitted=sp.FittedRange(params_min=1e9, params_max=1e8))
    assert info.value.field == "fitted.params_max"


def test_lifetime_and_joint_plans_are_checked_against_their_laws() -> None:
    p = sp.plan_lifetime(**UNSERVABLE_CHINCHILLA)
    assert p.feasible
    by_variable = {e.variable: e for e in p.extrapolated}
    assert by_variable["params"].factor == pytest.approx(p.params / 1.6e10, rel=1e-12)
    assert by_variable["tokens"].factor == pytest.approx(p.effective_tokens / 5e11, rel=1e-12)
    j = sp.plan_joint(budget=1e6, queries=1e8)
    ratio = float(j.tokens) / float(j.params)
    assert j.extrapolated == (
        sp.Extrapolation("tokens_per_param", ratio, 640.0, ratio / GADRE_TOKENS_PER_PARAM_MAX),
    )
    (record,) = j.extrapolated
    assert re.fullmatch(r"tokens_per_param \d\.\d\de3 is \d\.\dx above the fitted 640", str(record))
    assert str(record) in j.explain()


def test_cli_warns_under_the_table_and_writes_the_field() -> None:
    besiroglu = ("--law", "besiroglu2024")
    table = ok("plan", "training", "--budget", "1e10flops,1e21flops", *besiroglu).stdout
    warnings = [line for line in table.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: row 1 extrapolates the besiroglu2024 law beyond its fit: params 6.38e3 is "
        "1.1e4x below the fitted 7e7; tokens 2.61e5 is 1.9e4x below the fitted 5e9"
    ]
    rows = json_lines(
        ok("plan", "training", "--budget", "1e10flops,1e21flops", *besiroglu, "--json").stdout
    )
    assert [e["variable"] for e in rows[0]["extrapolated"]] == ["params", "tokens"]
    assert rows[0]["extrapolated"][0]["bound"] == 7e7 and rows[1]["extrapolated"] == []
    cells = csv_rows(
        ok("plan", "training", "--budget", "1e10flops,1e21flops", *besiroglu, "--csv").stdout
    )
    assert '"variable": "params"' in cells[0]["extrapolated"] and cells[1]["extrapolated"] == ""


# ---- item 6: not applicable is null ----


def test_infeasible_plans_have_nan_never_zero() -> None:
    p = sp.plan_training(target_loss=1.5)
    assert not p.feasible and p.extrapolated == ()
    for name in (
        "params",
        "tokens",
        "effective_tokens",
        "loss",
        "compute_flops",
        "tokens_per_param",
    ):
        assert math.isnan(getattr(p, name)), name
    life = sp.plan_lifetime(target_loss=1.5, queries=1e9, prompt_tokens=512, gen_tokens=1024)
    assert not life.feasible
    assert all(math.isnan(v) for v in life.to_dict().values() if isinstance(v, float))
    t = sp.plan_test_time(budget_eflops=1e6)
    assert t.model is None and t.attention is None and math.isnan(t.samples)
    j = sp.plan_joint(budget=1e-3, queries=1e8)
    assert not j.feasible and j.attention is None
    assert math.isnan(j.params) and math.isnan(j.marginal_accuracy) and math.isnan(j.samples)


def test_an_inapplicable_chinchilla_comparison_is_nan_not_inf() -> None:
    p = sp.plan_lifetime(**UNSERVABLE_CHINCHILLA)
    assert p.feasible and p.chinchilla_params == pytest.approx(62.2e9, rel=1e-2)
    assert math.isnan(p.chinchilla_total_cost) and math.isnan(p.cost_saved)
    text = p.explain()
    assert "does not apply" in text and not re.search(r"\binf\b", text)
    args = ["plan", "lifetime", "--batch=max", "--gpus=1"] + [
        f"--{k.replace('_', '-')}={v}" for k, v in UNSERVABLE_CHINCHILLA.items() if k != "serving"
    ]
    table = ok(*args).stdout
    assert not re.search(r"\binf\b", table)
    header, _, row = table.splitlines()[1:4]
    saved_at = header.index("saved vs Chinchilla")
    assert row[saved_at : saved_at + len("saved vs Chinchilla")].strip() == "-"
    (record,) = json_lines(ok(*args, "--json").stdout)
    assert record["cost_saved"] is None and record["chinchilla_total_cost"] is None
    (cells,) = csv_rows(ok(*args, "--csv").stdout)
    assert cells["cost_saved"] == "" and cells["chinchilla_total_cost"] == ""


def test_cli_writes_null_and_empty_for_an_infeasible_plan() -> None:
    (record,) = json_lines(ok("plan", "training", "--target-loss", "1.5", "--json").stdout)
    assert record["params"] is None and record["tokens_per_param"] is None
    (cells,) = csv_rows(ok("plan", "training", "--target-loss", "1.5", "--csv").stdout)
    assert cells["params"] == "" and cells["loss"] == "" and cells["feasible"] == "false"
    (record,) = json_lines(ok("plan", "test-time", "--budget", "1e6eflops", "--json").stdout)
    assert record["model"] is None and record["accuracy"] is None and record["samples"] is None
    (record,) = json_lines(
        ok("plan", "joint", "--budget", "1e-3gpu-h", "--queries", "1e8", "--json").stdout
    )
    assert not record["feasible"] and record["attention"] is None
    assert record["marginal_accuracy"] is None and record["params"] is None


def test_grpc_leaves_not_applicable_fields_unset(server: ServerThread) -> None:
    import grpc

    with grpc.insecure_channel(server.target) as channel:
        s = stub(channel)
        training = s.PlanTraining(
            planner_pb2.PlanTrainingRequest(target_loss=1.5), timeout=TIMEOUT_S
        ).plan
        assert not training.feasible and not training.HasField("params")
        assert not training.HasField("loss") and len(training.extrapolated) == 0
        tiny = s.PlanTraining(
            planner_pb2.PlanTrainingRequest(budget_flops=1e10, law_name="besiroglu2024"),
            timeout=TIMEOUT_S,
        ).plan
        assert [e.variable for e in tiny.extrapolated] == ["params", "tokens"]
        assert tiny.extrapolated[0].bound == 7e7
        test_time = s.PlanTestTime(
            planner_pb2.PlanTestTimeRequest(budget_eflops=1e6), timeout=TIMEOUT_S
        ).plan
        assert not test_time.HasField("model") and not test_time.HasField("accuracy")
        assert test_time.task == "aime24"
        assert test_time.aggregator == plan_pb2.ACCURACY_AGGREGATOR_COVERAGE
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        life = client.plan_lifetime(**UNSERVABLE_CHINCHILLA)
        assert (
            math.isnan(life.cost_saved)
            and life.extrapolated == sp.plan_lifetime(**UNSERVABLE_CHINCHILLA).extrapolated
        )
        message = conversions.lifetime_plan_message(life)
        assert not message.HasField("cost_saved") and message.HasField("chinchilla_params")


# ---- item 9: what "accuracy" is ----


def test_test_time_plans_name_their_task_and_aggregator() -> None:
    p = sp.plan_test_time(budget_eflops=1e16)
    assert (p.task, p.aggregator) == ("aime24", "coverage")
    assert "task: aime24; coverage: pass@k with a perfect verifier, an upper bound" in p.explain()
    m = sp.plan_test_time(budget_eflops=1e16, accuracy=sp.Accuracy.preset(aggregator="majority"))
    assert m.aggregator == "majority" and "majority vote" in m.explain()
    measured = sp.Accuracy.measured(
        [{"model": "qwen3-8b", "gen_tokens": 1024, "problem": "p", "n": 4, "c": 2}], name="mine"
    )
    assert (measured.task, measured.aggregator) == ("measured:mine", "coverage")


def test_joint_plans_name_their_task_and_aggregator() -> None:
    j = sp.plan_joint(budget=1e6, queries=1e8)
    assert j.task == "gadre2024-redpajama error law (downstream average)"
    assert j.aggregator == "coverage" and f"task: {j.task}; coverage" in j.explain()


def test_cli_headers_say_what_accuracy_is() -> None:
    out = ok("plan", "test-time", "--budget", "1e16eflops", "--aggregator", "majority").stdout
    caption, header = out.splitlines()[:2]
    assert "accuracy: task aime24, majority vote" in caption
    assert "accuracy (majority)" in header
    out = ok("plan", "joint", "--budget", "1e6gpu-h", "--queries", "1e8").stdout
    caption, header = out.splitlines()[:2]
    assert "task gadre2024-redpajama error law (downstream average), coverage" in caption
    assert "accuracy (coverage)" in header
    (record,) = json_lines(
        ok("plan", "joint", "--budget", "1e6gpu-h", "--queries", "1e8", "--json").stdout
    )
    assert record["aggregator"] == "coverage" and record["task"].startswith("gadre2024")
