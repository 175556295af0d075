"""``scaleplan plan joint`` and ``frontier joint``, run as a subprocess: the numbers are the
Python API's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scaleplan as sp
from cli_support import assert_plan_row, csv_rows, json_lines, ok, png_ok, run, usage_error


def test_plan_json_equals_the_python_api() -> None:
    rows = json_lines(
        ok("plan", "joint", "--budget", "2e5gpu-h,1e6gpu-h", "--queries", "1e9", "--json").stdout
    )
    plan = sp.plan_joint(budget=np.array([2e5, 1e6]), queries=1e9)
    assert [(r["budget"], r["queries"], r["unit"]) for r in rows] == [
        (2e5, 1e9, "gpu_hours"),
        (1e6, 1e9, "gpu_hours"),
    ]
    for i, row in enumerate(rows):
        assert_plan_row(row, plan.at(i))


def test_queries_list_gives_one_row_per_combination_goal_first() -> None:
    args = (
        "--budget",
        "1e5gpu-h,1e6gpu-h",
        "--queries",
        "1e7,1e9",
        "--k-max",
        "4",
        "--prompt-tokens",
        "512",
    )
    rows = csv_rows(ok("plan", "joint", *args, "--csv").stdout)
    assert [(float(r["budget"]), float(r["queries"])) for r in rows] == [
        (1e5, 1e7),
        (1e5, 1e9),
        (1e6, 1e7),
        (1e6, 1e9),
    ]
    for row in rows:
        plan = sp.plan_joint(
            budget=float(row["budget"]), queries=float(row["queries"]), k_max=4, prompt_tokens=512
        )
        assert_plan_row(row, plan)


@pytest.mark.parametrize(
    ("budget", "extra", "kwargs"),
    [
        ("1e24flops", (), {"budget": 1e24, "unit": "flops"}),
        (
            "$5e6",
            (
                "--train-usd-per-hour",
                "2",
                "--infer-usd-per-hour",
                "2.5",
                "--attention",
                "dense,topk:1024",
            ),
            {
                "budget": 5e6,
                "unit": "usd",
                "train_usd_per_hour": 2.0,
                "infer_usd_per_hour": 2.5,
                "attention": ["dense", ("topk", 1024.0)],
            },
        ),
        (
            "3e5gpu-h",
            ("--latency-slo", "1min", "--max-params", "8e9", "--batch", "unset"),
            {
                "budget": 3e5,
                "latency_slo_s": 60.0,
                "max_params": 8e9,
                "serving": sp.Serving(batch="unset"),
            },
        ),
    ],
)
def test_units_and_options(budget: str, extra: tuple[str, ...], kwargs: dict) -> None:
    out = ok("plan", "joint", "--budget", budget, "--queries", "1e9", *extra, "--json")
    [row] = json_lines(out.stdout)
    assert_plan_row(row, sp.plan_joint(queries=1e9, **kwargs))


def test_target_accuracy_table_explain_and_require_feasible() -> None:
    args = ("plan", "joint", "--target-accuracy", "0.6,0.999", "--queries", "1e8")
    out = ok(*args, "--explain").stdout
    assert (
        f"Joint plans: budgets and costs in GPU-hours; law {sp.DEFAULT_LAW};" in out
        and "% training" in out
    )
    assert "target_accuracy (infeasible)" in out
    assert sp.plan_joint(target_accuracy=0.6, queries=1e8).explain() in out
    failed = run(*args, "--require-feasible")
    assert failed.returncode == 1 and "1 of 2 plans infeasible" in failed.stderr


def test_frontier_json_equals_the_python_api(tmp_path: Path) -> None:
    plot = tmp_path / "joint.png"
    args = (
        "--budgets",
        "1e4gpu-h:1e6gpu-h:3",
        "--queries",
        "1e8",
        "--k-max",
        "8",
        "--plot",
        str(plot),
    )
    rows = json_lines(ok("frontier", "joint", *args, "--json").stdout)
    f = sp.frontier_joint(budgets=np.logspace(4, 6, 3), queries=1e8, k_max=8)
    assert len(rows) == 3
    for i, row in enumerate(rows):
        assert row["budget"] == pytest.approx(10.0 ** (4 + i))
        assert_plan_row(row, f.at(i))
    png_ok(plot)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--budget", "1e6gpu-h", "--queries", "-1"), "--queries: must be >= 0"),
        (("--budget", "5s", "--queries", "1e8"), "--budget: a budget in seconds does not apply"),
        (
            (
                "--budget",
                "$1e6",
                "--queries",
                "1e8",
                "--family",
                "llama-3.1",
                "--hardware",
                "gaudi3",  # no catalog price
            ),
            "--train-usd-per-hour",
        ),
        (("--budget", "1e6gpu-h", "--queries", "1e8", "--kappa", "0"), "--kappa: must be > 0"),
        (("--target-accuracy", "1.5", "--queries", "1e8"), "--target-accuracy"),
        (("--budget", "1e6gpu-h", "--queries", "1e8", "--law", "hoffmann2022"), "--law"),
        (("--budget", "1e6gpu-h", "--queries", "1e8", "--attention", "topk:-1"), "--attention"),
        (("--budget", "1e21eflops", "--queries", "1e8", "--unit", "flops"), "--unit"),
        (("--budget", "2e5", "--queries", "1e8"), "--budget: '2e5' has no unit"),
        (
            (
                "--budget",
                "1e6gpu-h",
                "--queries",
                "1e8",
                "--min-gen-tokens",
                "4096",
                "--max-gen-tokens",
                "1024",
            ),
            "--max-gen-tokens",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(args: tuple[str, ...], option: str) -> None:
    usage_error(run("plan", "joint", *args), option)


def test_bad_frontier_arguments() -> None:
    usage_error(run("frontier", "joint", "--budgets", "0gpu-h", "--queries", "1e8"), "--budgets")


def test_a_plot_of_infeasible_plans_is_still_drawn(tmp_path: Path) -> None:
    plot = tmp_path / "none.png"
    out = ok("plan", "joint", "--budget", "1gpu-h,2gpu-h", "--queries", "1e12", "--plot", str(plot))
    assert out.stdout.count("budget (infeasible)") == 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
