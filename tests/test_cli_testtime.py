"""``scaleplan plan test-time``, ``frontier test-time`` and the test-time figures, run as a
subprocess: the numbers are the Python API's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scaleplan as sp
from cli_support import REPO, assert_plan_row, csv_rows, json_lines, ok, png_ok, run, usage_error
from scaleplan.commands._parse import UsageError
from scaleplan.commands._pricing import attentions

# The Kinetics setting: prefill left out, weight reads amortised (batch unset).
KINETICS = ("--hardware", "kinetics-b200", "--no-prefill", "--batch", "unset")
MEASURED = REPO / "examples" / "data" / "synthetic_eval.csv"
KINETICS_API = {"hardware": "kinetics-b200", "serving": sp.Serving(batch="unset", prefill=False)}
UNSET = sp.Serving(batch="unset")


def test_plan_json_equals_the_python_api() -> None:
    args = (
        "--budget",
        "1e15eflops,1e16eflops",
        *KINETICS,
        "--attention",
        "dense",
        "--attention",
        "topk:1024",
    )
    rows = json_lines(ok("plan", "test-time", *args, "--json").stdout)
    plan = sp.plan_test_time(
        budget_eflops=np.array([1e15, 1e16]), attention=["dense", ("topk", 1024.0)], **KINETICS_API
    )
    assert [r["budget"] for r in rows] == [1e15, 1e16]
    assert rows[1]["attention"] == "topk:1024" and rows[1]["unit"] == "eflops"
    for i, row in enumerate(rows):
        assert_plan_row(row, plan.at(i))


@pytest.mark.parametrize(
    ("budget", "extra", "kwargs"),
    [
        (
            "5s",
            ("--batch", "64", "--latency-slo", "2min"),
            {"budget_seconds": 5.0, "serving": sp.Serving(batch=64), "latency_slo_s": 120.0},
        ),
        (
            "$0.01",
            ("--usd-per-hour", "6", "--batch", "unset"),
            {"budget_usd": 0.01, "usd_per_hour": 6.0, "serving": UNSET},
        ),
        (
            "1e15flops",
            ("--family", "qwen3-dense", "--batch", "max", "--k-max", "8"),
            {"budget_flops": 1e15, "family": "qwen3-dense", "k_max": 8},
        ),
        (
            "3e15eflops",
            ("--attention", "block_topk:2048:16", "--max-gen-tokens", "none", "--batch", "unset"),
            {
                "budget_eflops": 3e15,
                "attention": ["block_topk:2048:16"],
                "max_gen_tokens": None,
                "serving": UNSET,
            },
        ),
    ],
)
def test_budget_units_and_options(budget: str, extra: tuple[str, ...], kwargs: dict) -> None:
    [row] = json_lines(
        ok(
            "plan", "test-time", "--budget", budget, "--hardware", "h100-sxm", *extra, "--json"
        ).stdout
    )
    assert_plan_row(row, sp.plan_test_time(hardware="h100-sxm", **kwargs))


def test_table_explain_and_require_feasible() -> None:
    out = ok("plan", "test-time", "--budget", "1e16eflops", *KINETICS, "--explain").stdout
    assert "Test-time plans: budgets and costs in eFLOPs per query;" in out and "10 PeFLOP" in out
    assert sp.plan_test_time(budget_eflops=1e16, **KINETICS_API).explain() in out
    args = ("plan", "test-time", "--budget", "1e6eflops,1e16eflops", *KINETICS)
    assert "budget (infeasible)" in ok(*args).stdout
    out = run(*args, "--require-feasible", "--csv")
    assert out.returncode == 1
    assert "1 of 2 plans infeasible (budget)" in out.stderr
    assert [r["feasible"] for r in csv_rows(out.stdout)] == ["false", "true"]


def test_frontier_with_measured_data_json_and_csv() -> None:
    args = (
        "frontier",
        "test-time",
        "--budgets",
        "1e14eflops:1e18eflops:5",
        "--measured",
        str(MEASURED),
    )
    args += ("--k-max", "16")
    acc = sp.Accuracy.measured(MEASURED)
    f = sp.frontier_test_time(budgets=np.logspace(14, 18, 5), accuracy=acc, k_max=16)
    rows = json_lines(ok(*args, "--json").stdout)
    assert len(rows) == 5
    for i, row in enumerate(rows):
        assert_plan_row(row, f.plan.at(i))
        assert row["per_model"] == {name: float(v[i]) for name, v in f.per_model.items()}
        assert f.oracle is not None
        # No plan at a budget: no oracle either (NaN, null in JSON).
        want = None if math.isnan(f.oracle[i]) else float(f.oracle[i])
        assert row["oracle_accuracy"] == want
    table = csv_rows(ok(*args, "--csv").stdout)
    assert len(table) == 5
    for i, row in enumerate(table):
        assert_plan_row(row, f.plan.at(i))
        for name, values in f.per_model.items():
            assert float(row[f"per_model_{name}"]) == pytest.approx(float(values[i]), rel=1e-12)
    out = ok(*args).stdout
    assert "oracle (upper bound)" in out and "an upper bound, not a deployable policy" in out
    assert "1.7b" in out and "8b" in out  # per-model columns, family prefix dropped


def test_frontier_json_equals_the_python_api() -> None:
    args = (
        "--budgets",
        "1e13eflops:1e19eflops:7",
        *KINETICS,
        "--attention",
        "dense,topk:1024",
        "--json",
    )
    rows = json_lines(ok("frontier", "test-time", *args).stdout)
    f = sp.frontier_test_time(
        budgets=np.logspace(13, 19, 7), attention=["dense", ("topk", 1024.0)], **KINETICS_API
    )
    assert [r["budget"] for r in rows] == pytest.approx(np.logspace(13, 19, 7).tolist())
    for i, row in enumerate(rows):
        assert_plan_row(row, f.plan.at(i))
        assert list(row["per_model"]) == [
            "qwen3-0.6b",
            "qwen3-1.7b",
            "qwen3-4b",
            "qwen3-8b",
            "qwen3-14b",
            "qwen3-32b",
        ]
        assert row["per_model"]["qwen3-8b"] == float(f.per_model["qwen3-8b"][i])


def test_plots_are_written(tmp_path: Path) -> None:
    frontier = tmp_path / "frontier.png"
    done = ok(
        "frontier",
        "test-time",
        "--budgets",
        "1e13eflops:1e19eflops:40",
        *KINETICS,
        "--attention",
        "dense,topk:1024",
        "--plot",
        str(frontier),
    )
    png_ok(frontier)
    assert f"wrote {frontier}" in done.stderr
    measured = tmp_path / "measured.svg"
    ok(
        "plot",
        "test-time-frontier",
        "--budgets",
        "1e14eflops:1e18eflops:20",
        "--measured",
        str(MEASURED),
        "--k-max",
        "16",
        "--out",
        str(measured),
    )
    text = measured.read_text()
    assert "<svg" in text and len(text) > 10_000
    accuracy = tmp_path / "accuracy.png"
    ok(
        "plot",
        "accuracy",
        "--budgets",
        "1e13eflops:1e19eflops:30",
        *KINETICS,
        "--out",
        str(accuracy),
    )
    png_ok(accuracy)
    plan = tmp_path / "plan.png"
    ok("plan", "test-time", "--budget", "1e14eflops:1e18eflops:9", "--plot", str(plan))
    png_ok(plan)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--budget", "200gpu-h"), "--budget: a budget in GPU-hours does not apply"),
        (("--budget=-1eflops",), "--budget: must be > 0"),
        (("--budget", "1e16"), "--budget: '1e16' has no unit; a budget always carries one"),
        (("--budget", "1e15:1e16eflops:3"), "--budget: '1e15' has no unit"),
        (("--budget", "$0.01", "--hardware", "gaudi3"), "--usd-per-hour"),
        (
            ("--budget", "1e16eflops", "--attention", "topk"),
            "--attention: 'topk': expected dense, topk:S",
        ),
        (
            ("--budget", "1e16eflops", "--attention", "sparse:4"),
            "--attention: 'sparse:4': expected dense",
        ),
        (
            ("--budget", "1e16eflops", "--attention", "block_topk:1024:0"),
            "--attention: 'block_topk:1024:0': expected",
        ),
        (("--budget", "1e16eflops", "--accuracy", "gsm8k"), "--accuracy: unknown"),
        (
            ("--budget", "1e16eflops", "--measured", "no/such.csv"),
            "no/such.csv: cannot read: No such file or directory",
        ),
        (
            ("--budget", "1e16eflops", "--measured", str(MEASURED), "--aggregator", "majority"),
            "--aggregator",
        ),
        (("--budget", "1e16eflops", "--models", "qwen3-9b"), "--models: unknown model"),
        (("--budget", "1e16eflops", "--k-max", "0"), "--k-max"),
        (("--budget", "1e16eflops", "--latency-slo", "5gpu-h"), "--latency-slo"),
        (("--budget", "1e16eflops", "--batch", "0"), "--batch: must be >= 1"),
        (("--budget", "1e16eflops", "--hardware", "tpu"), "--hardware: unknown hardware"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(args: tuple[str, ...], option: str) -> None:
    usage_error(run("plan", "test-time", *args), option)


def test_bad_frontier_and_figure_arguments(tmp_path: Path) -> None:
    usage_error(
        run("frontier", "test-time", "--budgets", "1e13eflops:1e19eflops"), "--budgets: range"
    )
    one = run("frontier", "test-time", "--budgets", "1e16eflops", "--plot", str(tmp_path / "f.png"))
    usage_error(one, "--plot: needs at least two")
    usage_error(
        run(
            "plot",
            "accuracy",
            "--budgets",
            "1e13eflops:1e19eflops:5",
            "--out",
            str(tmp_path / "a.jpg"),
        ),
        "--out: plots are written as .png or .svg",
    )
    assert not list(tmp_path.iterdir())


def test_attention_specs() -> None:
    assert attentions(None) == [("dense", None, None)]
    assert attentions(["dense", "topk:1024,block_topk:2048:16"]) == [
        ("dense", None, None),
        ("topk", 1024.0, None),
        ("block_topk", 2048.0, 16.0),
    ]
    assert [str(a) for a in attentions(["dense", "topk:1024,block_topk:2048:16"])] == [
        "dense",
        "topk:1024",
        "block_topk:2048:16",
    ]
    assert attentions(["dense", "dense"]) == [("dense", None, None)]
    for bad in (["dense:5"], ["block_topk:2048"], ["topk:x"], ["", ""], ["topk:16:32"]):
        with pytest.raises(UsageError) as err:
            attentions(bad)
        assert err.value.option == "--attention"
        assert "topk:S" in str(err.value)
