"""``scaleplan plan training|lifetime``, run as a subprocess."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from cli_support import csv_rows, json_lines, ok, run, usage_error
from scaleplan.commands._output import plain

DEMAND = ("--queries", "1e9", "--prompt-tokens", "512", "--gen-tokens", "1024")
PRICED = (*DEMAND, "--hardware", "h100-sxm", "--family", "qwen3-dense")
UNPRICED = (*DEMAND, "--hardware", "gaudi3", "--family", "qwen3-dense")  # no catalog price


def assert_plan_row(row: dict[str, Any], plan: Any) -> None:
    for name, value in plan.to_dict().items():
        got = row[name]
        value = plain(value)  # as JSON writes it: records (`extrapolated`) as dicts
        if isinstance(value, float) and not math.isfinite(value):
            assert got is None, name
        elif isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12, abs=0), name
        else:
            assert got == value, name


def test_training_json_equals_the_python_api() -> None:
    rows = json_lines(ok("plan", "training", "--budget", "1e21flops,1e23flops", "--json").stdout)
    plan = sp.plan_training(budget_flops=np.array([1e21, 1e23]))
    assert [r["budget_flops"] for r in rows] == [1e21, 1e23]
    for i, row in enumerate(rows):
        assert_plan_row(row, plan.at(i))


def test_training_range_and_data_limit() -> None:
    args = ("--budget", "1e18flops:1e26flops:9", "--unique-tokens", "1e12", "--law", "hoffmann2022")
    rows = json_lines(ok("plan", "training", *args, "--json").stdout)
    plan = sp.plan_training(
        budget_flops=np.logspace(18, 26, 9), unique_tokens=1e12, law="hoffmann2022"
    )
    assert len(rows) == 9
    for i, row in enumerate(rows):
        assert_plan_row(row, plan.at(i))


def test_training_target_loss_infeasible_and_require_feasible() -> None:
    args = ("plan", "training", "--target-loss", "2.1,1.5")
    out = ok(*args)
    assert "loss_floor (infeasible)" in out.stdout
    out = run(*args, "--require-feasible")
    assert out.returncode == 1
    assert "1 of 2 plans infeasible (loss_floor)" in out.stderr
    assert ok("plan", "training", "--target-loss", "2.1", "--require-feasible").returncode == 0


def test_explain_prints_the_plans_own_words() -> None:
    out = ok("plan", "training", "--budget", "1e21flops", "--explain").stdout
    assert sp.plan_training(budget_flops=1e21).explain() in out
    rows = json_lines(ok("plan", "training", "--budget", "1e21flops", "--explain", "--json").stdout)
    assert rows[0]["explanation"] == sp.plan_training(budget_flops=1e21).explain()


def test_lifetime_json_equals_the_python_api() -> None:
    rows = json_lines(ok("plan", "lifetime", "--target-loss", "2.1", *DEMAND, "--json").stdout)
    plan = sp.plan_lifetime(target_loss=2.1, queries=1e9, prompt_tokens=512, gen_tokens=1024)
    [row] = rows
    assert row["target_loss"] == 2.1 and row["queries"] == 1e9
    assert_plan_row(row, plan)


def test_lifetime_budget_unit_comes_from_the_budget() -> None:
    out = ok(
        "plan", "lifetime", "--budget", "2e5gpu-h,1e6gpu-h", *PRICED, "--batch", "max", "--json"
    )
    rows = json_lines(out.stdout)
    plan = sp.plan_lifetime(
        budget=np.array([2e5, 1e6]),
        queries=1e9,
        prompt_tokens=512,
        gen_tokens=1024,
        hardware="h100-sxm",
        family="qwen3-dense",
        unit="gpu_hours",
    )
    assert [r["unit"] for r in rows] == ["gpu_hours", "gpu_hours"]
    for i, row in enumerate(rows):
        assert_plan_row(row, plan.at(i))


def test_lifetime_dollars_with_prices_and_demand_lists() -> None:
    prices = ("--train-usd-per-hour", "2", "--infer-usd-per-hour", "2.5")
    out = ok(
        "plan",
        "lifetime",
        "--budget",
        "$1e5,$10M",
        *PRICED,
        "--queries",
        "1e9,1e11",
        *prices,
        "--csv",
    )
    rows = csv_rows(out.stdout)
    assert len(rows) == 4
    for row in rows:
        plan = sp.plan_lifetime(
            budget=float(row["budget"]),
            queries=float(row["queries"]),
            prompt_tokens=512,
            gen_tokens=1024,
            hardware="h100-sxm",
            family="qwen3-dense",
            unit="usd",
            train_usd_per_hour=2.0,
            infer_usd_per_hour=2.5,
        )
        assert row["unit"] == "usd"
        assert row["feasible"] == ("true" if plan.feasible else "false")
        if not plan.feasible:  # not applicable: an empty cell
            assert row["params"] == "" and math.isnan(plan.params)
            continue
        assert float(row["params"]) == pytest.approx(float(plan.params), rel=1e-12)
    assert [float(r["budget"]) for r in rows] == [1e5, 1e5, 1e7, 1e7]


def test_lifetime_table() -> None:
    out = ok("plan", "lifetime", "--target-loss", "2.1", *DEMAND, "--explain").stdout
    assert out.startswith(
        f"Lifetime plans: budgets and costs in FLOPs; law {sp.DEFAULT_LAW}; inference priced at "
        "2N FLOPs per token; queries 1 G, prompt tokens 512, gen tokens 1024, samples 1; "
        f"inputs: law {sp.DEFAULT_LAW}: published"
    )
    assert "Chinchilla" in out and "ZFLOP" in out
    plan = sp.plan_lifetime(target_loss=2.1, queries=1e9, prompt_tokens=512, gen_tokens=1024)
    assert plan.explain() in out


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("training", "--budget", "$5000"), "--budget: a budget in USD does not apply"),
        (("training", "--budget", "1e21"), "--budget: '1e21' has no unit"),
        (("lifetime", "--budget", "1e21", *DEMAND), "--budget: '1e21' has no unit"),
        (("training", "--budget=-1flops"), "--budget: must be > 0"),
        (("training", "--budget", "1e21flops", "--law", "nope"), "--law: unknown law 'nope'"),
        (("training", "--budget", "1e21flops:1e22flops"), "--budget: range"),
        (("training", "--budget", "1e21flops", "--unique-tokens", "x"), "--unique-tokens"),
        (("lifetime", "--budget", "200gpu-h", *DEMAND), "--budget: 'gpu_hours' needs"),
        (("lifetime", "--budget", "1e5s", *DEMAND), "--budget: a budget in seconds"),
        (("lifetime", "--target-loss", "2", *DEMAND, "--unit", "eflops"), "--unit"),
        (("lifetime", "--budget", "1e21eflops", *DEMAND, "--unit", "flops"), "--unit"),
        (("lifetime", "--target-loss", "2", *DEMAND, "--hardware", "h100-sxm"), "--family"),
        (("lifetime", "--budget", "$1e6", *UNPRICED), "--train-usd-per-hour"),
        (("lifetime", "--target-loss", "2", *DEMAND, "--gen-tokens", "0"), "--gen-tokens"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(args: tuple[str, ...], option: str) -> None:
    usage_error(run("plan", *args), option)


def test_budget_and_target_are_exclusive() -> None:
    out = run("plan", "training", "--budget", "1e21flops", "--target-loss", "2")
    assert out.returncode == 2 and "--target-loss" in out.stderr
