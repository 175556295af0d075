"""What a new user meets on the command line: headers with unit and law, help on every option,
readable numbers and messages that name only options that exist (issue 12)."""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import scaleplan as sp
from cli_support import command, csv_rows, ok, run, usage_error
from scaleplan import _format as fmt
from scaleplan import cli
from scaleplan.commands import _parse

# ---- headers: the unit of the budgets and the law, in every plan command ----------------------


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (
            ("plan", "training", "--budget", "1e21flops"),
            f"Training plans: budgets and costs in FLOPs; law {sp.DEFAULT_LAW}; inputs: law "
            f"{sp.DEFAULT_LAW}: published (chinchilla form; Gadre et al. 2024",
        ),
        (
            ("plan", "lifetime", "--budget", "1e23flops", "--queries", "1e9"),
            f"Lifetime plans: budgets and costs in FLOPs; law {sp.DEFAULT_LAW}; ",
        ),
        (
            (
                "plan",
                "lifetime",
                "--target-loss",
                "2.6",
                "--queries",
                "1e9",
                "--law",
                "hoffmann2022",
            ),
            "Lifetime plans: budgets and costs in FLOPs; law hoffmann2022; ",
        ),
        (
            ("plan", "joint", "--budget", "1e6gpu-h", "--queries", "1e8"),
            f"Joint plans: budgets and costs in GPU-hours; law {sp.DEFAULT_LAW}; ",
        ),
        (
            (
                "frontier",
                "joint",
                "--budgets",
                "$1e5,$1e6",
                "--queries",
                "1e8",
                "--train-usd-per-hour",
                "2",
                "--infer-usd-per-hour",
                "2.5",
            ),
            f"Joint frontier: budgets and costs in USD; law {sp.DEFAULT_LAW}; ",
        ),
        (
            ("plan", "test-time", "--budget", "5s", "--hardware", "h100-sxm"),
            "Test-time plans: budgets and costs in replica-seconds per query; ",
        ),
        (
            ("frontier", "test-time", "--budgets", "1e15flops,1e16flops"),
            "Test-time frontier: budgets and costs in FLOPs per query; ",
        ),
    ],
)
def test_every_plan_header_names_its_unit_and_law(args: tuple[str, ...], first_line: str) -> None:
    if args[1] == "lifetime":
        args = (*args, "--prompt-tokens", "512", "--gen-tokens", "1024")
    out = ok(*args).stdout
    assert out.splitlines()[0].startswith(first_line), out.splitlines()[0]
    # and, last, where its inputs come from (docs/planning.md, "Provenance")
    assert "; inputs: " in out.splitlines()[0]


def test_help_shows_the_one_default_law_and_the_budget_units() -> None:
    for planner in ("training", "lifetime", "joint"):
        text = ok("plan", planner, "--help").stdout
        assert f"(default: {sp.DEFAULT_LAW}, every planner's;" in " ".join(text.split()), planner
    text = " ".join(ok("plan", "joint", "--help").stdout.split())
    assert "FLOPs (1e21flops), eFLOPs (5e20eflops), GPU-hours (2e5gpu-h), USD" in text


def test_a_bare_budget_is_refused_by_every_planner() -> None:
    demand = ("--queries", "1e9", "--prompt-tokens", "512", "--gen-tokens", "1024")
    for args in (
        ("plan", "training", "--budget", "1e21"),
        ("plan", "lifetime", "--budget", "1e21", *demand),
        ("plan", "test-time", "--budget", "1e16"),
        ("plan", "joint", "--budget", "2e5", "--queries", "1e9"),
        ("frontier", "test-time", "--budgets", "1e13:1e19:5"),
        ("frontier", "joint", "--budgets", "1e4:1e6:3", "--queries", "1e9"),
        ("plot", "accuracy", "--budgets", "1e13:1e19:5", "--out", "x.png"),
    ):
        option = "--budgets" if "--budgets" in args else "--budget"
        usage_error(run(*args), f"{option}: ")
        assert "has no unit; a budget always carries one. Accepted here:" in run(*args).stderr


# ---- help ------------------------------------------------------------------------------------


def _options(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{path} {name}")
        elif action.option_strings and action.dest != "help":
            yield path, action


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{path} {action.option_strings[-1]}"
        for path, action in _options(cli.build_parser(), "scaleplan")
        if not action.help
    ]
    assert missing == []


def test_time_model_and_dtype_options_say_what_they_do() -> None:
    text = " ".join(ok("cost", "--help").stdout.split())
    assert "additive (FLOPs / peak + bytes / bandwidth" in text
    assert "--compute-dtype {bf16,fp16,fp8} arithmetic precision" in text
    text = " ".join(ok("plan", "test-time", "--help").stdout.split())
    assert "--kv-dtype {bf16,fp16,fp8} storage type of the KV cache" in text


def test_sweep_help_is_plain_text() -> None:
    text = ok("sweep", "--help").stdout
    for markup in ("``", ":func:", "::\n"):
        assert markup not in text
    assert "priced through scaleplan.inference_cost in chunks" in " ".join(text.split())
    assert 'family = "qwen3-dense"' in text  # the scenario format, as written in a file


# ---- messages --------------------------------------------------------------------------------


def test_an_error_names_no_option_the_command_lacks(tmp_path: Path) -> None:
    """A catalog model with head_dim = 0: the error is about the file's field, not an option
    --head-dim that does not exist."""
    entry = """
[[model]]
name = "bad-model"
total_params = 1e9
flop_params = 1e9
layers = 28
hidden_size = 1024
intermediate_size = 3072
query_heads = 16
kv_heads = 8
head_dim = 0
vocab_size = 151936
max_context = 40960
tied_embeddings = true
"""
    path = tmp_path / "bad.toml"
    path.write_text(entry)
    env = {**os.environ, "SCALEPLAN_CATALOG": str(path)}
    args = ("--hardware", "h100-sxm", "--prompt-tokens", "1", "--gen-tokens", "1")
    out = run("cost", "--model", "bad-model", *args, env=env)
    # The catalog error names the file, the entry and its field, once (docs/limits.md, "Errors").
    usage_error(out, f"catalog {path}: bad-model: head_dim: must be > 0, got 0")
    assert "--head-dim" not in out.stderr and out.stderr.count("head_dim") == 1


def test_latency_slo_lists_time_units_only() -> None:
    out = run("plan", "test-time", "--budget", "1e16eflops", "--latency-slo", "5gpu-h")
    usage_error(out, "--latency-slo: not a duration: '5gpu-h' (expected seconds, e.g. 120, 120s")
    assert "flops" not in out.stderr and "usd" not in out.stderr


def test_explanations_use_the_singular_for_one() -> None:
    one = sp.plan_test_time(budget_eflops=1e16, k_max=1, hardware="kinetics-b200")
    assert one.samples == 1 and " with 1 sample of up to " in one.explain()
    joint = sp.plan_joint(budget=1e6, queries=1e8, k_max=1, serving=sp.Serving(gpus=1))
    text = joint.explain()
    assert "with 1 sample of up to" in text and "replicas of 1 GPU)" in text
    assert "1 samples" not in text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.9996, "1 s"),  # was "1e+03 ms"
        (0.0123, "12.3 ms"),
        (5e-5, "50 us"),
        (0.0, "0 s"),
        (59.97, "1 min"),
        (90.0, "1.5 min"),
        (3599.0, "1 h"),  # was "3.6e+03 s"
        (7200.0, "2 h"),
        (5e6, "1,389 h"),  # 5e6 / 3600 = 1388.9: written out, not 1.39e+03
        (float("inf"), "inf"),
    ],
)
def test_durations_read_in_a_fitting_unit(value: float, text: str) -> None:
    assert fmt.seconds(value) == text


def test_plural() -> None:
    assert [fmt.plural(n, "sample") for n in (0, 1, 2, 1000)] == [
        "0 samples",
        "1 sample",
        "2 samples",
        "1,000 samples",
    ]


def test_whole_numbers_are_written_as_integers_in_csv(tmp_path: Path) -> None:
    args = ("--model", "qwen3-8b", "--hardware", "h100-sxm", "--prompt-tokens", "128,512")
    rows = csv_rows(ok("cost", *args, "--gen-tokens", "1024", "--batch", "64", "--csv").stdout)
    assert [r["prompt_tokens"] for r in rows] == ["128", "512"]
    assert {r["gen_tokens"] for r in rows} == {"1024"} and {r["batch"] for r in rows} == {"64"}
    assert "." in rows[0]["latency_s"]  # a fraction keeps its digits
    grid = tmp_path / "g.toml"
    grid.write_text(
        'model = "qwen3-0.6b"\nhardware = "h100-sxm"\nprompt_tokens = [128, 512]\n'
        "gen_tokens = 1024\nsamples = [1, 8]\n"
    )
    out = tmp_path / "o.csv"
    ok("sweep", "--grid", str(grid), "--out", str(out))
    swept = csv_rows(out.read_text())
    assert [(r["prompt_tokens"], r["samples"]) for r in swept] == [
        ("128", "1"),
        ("128", "8"),
        ("512", "1"),
        ("512", "8"),
    ]
    # The plan's budget, a whole number past 2^53, keeps its float form.
    (plan,) = csv_rows(ok("plan", "training", "--budget", "1e21flops", "--csv").stdout)
    assert plan["budget_flops"] == "1e+21"


# ---- the catalog lists accuracy presets ---------------------------------------------------------


def test_catalog_lists_accuracy_presets() -> None:
    assert sp.catalog()["accuracy"] == ["aime24-qwen3"]
    table = ok("catalog").stdout
    assert "accuracy:\n" in table and "aime24-qwen3  aime24" in table
    (row,) = csv_rows(ok("catalog", "accuracy", "--csv").stdout)
    assert row["name"] == "aime24-qwen3" and row["reference_tokens"] == "30720"
    assert "qwen3-8b=0.752" in row["pass1"]
    assert sp.Accuracy.preset(row["name"]).task == row["task"]


def _examples(parser: argparse.ArgumentParser) -> Iterator[str]:
    for line in (parser.epilog or "").splitlines():
        if line.strip().startswith("scaleplan "):
            yield line.strip()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _examples(sub)


def test_every_budget_in_a_help_example_carries_its_unit() -> None:
    checked = 0
    for example in _examples(cli.build_parser()):
        words = shlex.split(example)
        for option, value in itertools.pairwise(words):
            if option in ("--budget", "--budgets"):
                _parse.budgets(option, value, tuple(_parse.UNIT_LABELS))
                checked += 1
    assert checked >= 15


def test_reference_ends_quietly_in_a_pipe_and_names_its_option() -> None:
    done = subprocess.run(
        ["bash", "-c", f"{' '.join(command())} reference | head -1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.startswith("One query on h100-sxm: 512 prompt tokens, 8192 generated, 1 ")
    assert done.stderr == ""  # no BrokenPipeError traceback
    usage_error(run("reference", "--hardware", "tpu"), "--hardware: unknown hardware")
