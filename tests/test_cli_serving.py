"""The serving options are the same in every command that prices inference: one --attention
spelling, --batch unset/max/N, and a header that prints the serving options in use."""

from __future__ import annotations

import pytest
import scaleplan as sp
from cli_support import json_lines, ok, run, usage_error

PRICING: dict[str, str] = {
    "cost": "cost --model qwen3-8b --hardware h100-sxm --prompt-tokens 512 --gen-tokens 1024",
    "plan lifetime": "plan lifetime --target-loss 2.2 --queries 1e9 --prompt-tokens 512 "
    "--gen-tokens 1024 --hardware h100-sxm --family qwen3-dense",
    "plan test-time": "plan test-time --budget 1e16eflops --hardware h100-sxm",
    "frontier test-time": "frontier test-time --budgets 1e15eflops,1e16eflops --hardware h100-sxm",
    "plan joint": "plan joint --budget 1e5gpu-h --queries 1e8 --k-max 4",
    "frontier joint": "frontier joint --budgets 1e4gpu-h,1e5gpu-h --queries 1e8 --k-max 4",
}


@pytest.mark.parametrize("name", list(PRICING))
def test_every_command_takes_one_spelling_and_prints_its_serving(name: str) -> None:
    args = PRICING[name].split()
    # The lifetime and joint planners choose the GPUs per replica unless told.
    chooses = name in ("plan lifetime", "plan joint", "frontier joint")
    unset = sp.Serving(batch="unset", gpus="auto" if chooses else 1)
    header = ok(*args, "--batch", "unset", "--attention", "topk:1024").stdout.splitlines()[0]
    assert f"serving: {unset}" in header, header
    assert "topk:1024 attention" in header
    default = ok(*args).stdout.splitlines()[0]
    assert "serving: batch max (the largest that fits)" in default
    usage_error(run(*args, "--attention", "topk"), "--attention: 'topk': expected dense, topk:S")
    usage_error(run(*args, "--batch", "some"), "--batch")


def test_a_planner_spells_its_choice_as_the_option_does() -> None:
    args = (
        "plan",
        "test-time",
        "--budget",
        "1e15eflops,1e17eflops",
        "--attention",
        "dense,topk:2048",
    )
    rows = json_lines(ok(*args, "--json").stdout)
    assert {r["attention"] for r in rows} <= {"dense", "topk:2048"}
    assert [r["attention"] for r in rows] == list(
        sp.plan_test_time(budget_eflops=[1e15, 1e17], attention=["dense", "topk:2048"]).attention
    )
