"""``scaleplan cost``, run as a subprocess: one row per combination, the Python API's numbers."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import pytest
import scaleplan as sp
from cli_support import csv_rows, json_lines, ok, run, usage_error

COST_FIELDS = [f.name for f in dataclasses.fields(sp.InferenceCost)]
BASE = ("--hardware", "h100-sxm", "--prompt-tokens", "512")


def same(cli: Any, api: Any) -> bool:
    """A JSON value against the API's: null stands for infinity."""
    if cli is None:
        return not math.isfinite(float(api))
    if isinstance(cli, float | int) and not isinstance(cli, bool):
        return cli == pytest.approx(float(api), rel=1e-12, abs=0)
    return bool(cli == api)


def test_one_query_json_equals_the_python_api() -> None:
    out = ok(
        "cost", "--model", "qwen3-8b", *BASE, "--gen-tokens", "8192", "--samples", "8", "--json"
    )
    [row] = json_lines(out.stdout)
    c = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192, samples=8)
    for name in COST_FIELDS:
        assert same(row[name], getattr(c, name)), name
    # The default batch is "max": the largest that fits, as in the Python API.
    assert row["batch"] == row["max_batch"] == float(c.max_batch)
    assert row["requested_batch"] == "max" and row["kv_budget"] is None
    [unset] = json_lines(
        ok(
            "cost",
            "--model",
            "qwen3-8b",
            *BASE,
            "--gen-tokens",
            "8192",
            "--batch",
            "unset",
            "--json",
        ).stdout
    )
    assert unset["batch"] is None  # unset: weights amortised, batch infinite
    assert unset["requested_batch"] == "unset" and unset["weight_bytes"] == 0


def test_prefill_mode_prices_the_static_batch_prefill_into_ttft() -> None:
    args = (
        "cost",
        "--model",
        "qwen3-8b",
        "--hardware",
        "h100-sxm",
        "--prompt-tokens",
        "128",
        "--gen-tokens",
        "1",
        "--batch",
        "8",
    )
    [per_query] = json_lines(ok(*args, "--json").stdout)
    [batch] = json_lines(ok(*args, "--prefill-mode", "batch", "--json").stdout)
    assert per_query["prefill_mode"] == "per_query" and batch["prefill_mode"] == "batch"
    want = sp.inference_cost(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=128,
        gen_tokens=1,
        serving=sp.Serving(batch=8, prefill="batch"),
    )
    assert batch["ttft_s"] == pytest.approx(want.ttft_s, rel=1e-12)
    # 8 prompts of 128 tokens in one pass: 8 x 2.101471838208e12 FLOPs at 593.64e12 FLOP/s
    assert batch["ttft_s"] == pytest.approx(8 * 2.101471838208e12 / 593.64e12, rel=1e-12)
    # alone, the 128-token prefill waits on the weights: 15,137,859,584 B at 2.68e12 B/s
    assert per_query["ttft_s"] == pytest.approx(15_137_859_584 / 2.68e12, rel=1e-12)
    assert "whole batch" in ok(*args, "--prefill-mode", "batch").stdout
    usage_error(run(*args[:-2], "--batch", "unset", "--prefill-mode", "batch"), "--prefill-mode")
    # the planners take it too: a test-time plan priced with the static batch's prefill
    plan = ("plan", "test-time", "--budget", "2s", "--hardware", "h100-sxm", "--batch", "64")
    [row] = json_lines(ok(*plan, "--prefill-mode", "batch", "--json").stdout)
    want = sp.plan_test_time(
        budget_seconds=2.0, hardware="h100-sxm", serving=sp.Serving(batch=64, prefill="batch")
    )
    assert row["gen_tokens"] == pytest.approx(float(want.gen_tokens), rel=1e-12)


def test_lists_and_ranges_give_every_combination_in_order() -> None:
    out = ok(
        "cost",
        "--model",
        "qwen3-8b,qwen3-32b",
        "--hardware",
        "h200",
        "--prompt-tokens",
        "512",
        "--gen-tokens",
        "1024:32768:6",
        "--samples",
        "1,8",
        "--attention",
        "block_topk:1024:16,block_topk:4096:16",
        "--batch",
        "max",
        "--json",
    )
    rows = json_lines(out.stdout)
    gens = [1024, 2048, 4096, 8192, 16384, 32768]
    # Each attention is a setting (one core call): model, then attention, then the numeric axes.
    combos = list(itertools.product(["qwen3-8b", "qwen3-32b"], [1024, 4096], gens, [1, 8]))
    assert len(rows) == len(combos) == 48
    for row, (model, s, gen, k) in zip(rows, combos, strict=True):
        assert (row["model"], row["gen_tokens"], row["samples"], row["kv_budget"]) == (
            model,
            gen,
            k,
            s,
        )
        c = sp.inference_cost(
            model,
            "h200",
            prompt_tokens=512,
            gen_tokens=gen,
            samples=k,
            attention=("block_topk", s, 16),
        )
        for name in COST_FIELDS:
            assert same(row[name], getattr(c, name)), (name, row)
        assert row["requested_batch"] == "max" and row["attention"] == f"block_topk:{s}:16"


def test_csv_parses_and_matches_json() -> None:
    args = ("cost", "--family", "qwen3-dense", *BASE, "--gen-tokens", "1024,8192", "--batch", "4")
    rows = csv_rows(ok(*args, "--csv").stdout)
    objs = json_lines(ok(*args, "--json").stdout)
    assert len(rows) == len(objs) == 12
    assert [r["model"] for r in rows[::2]] == list(sp.family("qwen3-dense").members)
    for r, o in zip(rows, objs, strict=True):
        assert list(r) == list(o)
        for key, value in o.items():
            if isinstance(value, bool):
                assert r[key] == ("true" if value else "false")
            elif isinstance(value, float):
                assert float(r[key]) == value
            elif value is None:
                assert r[key] in ("", "inf")


def test_table_has_units_and_says_what_is_fixed() -> None:
    args = ("cost", "--model", "qwen3-8b", *BASE, "--gen-tokens", "8192", "--samples", "1,8")
    text = ok(*args, "--batch", "unset").stdout
    assert "One query per row" in text and "batch unset" in text and "prompt 512" in text
    # The caption ends with the serving options in use: str(Serving) of the Python API.
    default = ok(*args).stdout.splitlines()[0]
    assert default.endswith(f"; serving: {sp.Serving(gpus=1)}.")
    assert "eFLOPs" in text and " TB" in text and " s" in text
    assert len(text.splitlines()) == 3 + 2  # caption, header, rule, two rows
    assert "samples" in text.splitlines()[1]


def test_infeasible_rows_say_what_binds() -> None:
    out = ok("cost", "--model", "qwen3-8b", *BASE, "--gen-tokens", "100000")
    assert "no (context)" in out.stdout


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (("--gen-tokens", "0"), "--gen-tokens: must be > 0, got 0"),
        (("--gen-tokens", "10,0"), "--gen-tokens: must be > 0"),
        (("--gen-tokens", "abc"), "--gen-tokens: not a number"),
        (("--gen-tokens", "1:10:0"), "--gen-tokens: range"),
        (("--gen-tokens", "10", "--samples", "2.5"), "--samples: must be a whole number"),
        (("--gen-tokens", "10", "--attention", "topk"), "--attention: 'topk': expected dense"),
        (("--gen-tokens", "10", "--attention", "topk:0"), "--attention: 'topk:0'"),
        (("--gen-tokens", "10", "--batch", "unset", "--prefill-mode", "batch"), "--prefill-mode"),
        (("--gen-tokens", "10", "--batch", "0"), "--batch: must be >= 1"),
        (("--gen-tokens", "10", "--batch", "max,2"), "--batch"),
        (("--gen-tokens", "10", "--gpus", "0"), "--gpus: must be >= 1"),
        (
            ("--gen-tokens", "1:1e5:100", "--samples", "1:1000:300", "--max-rows", "1000"),
            "--gen-tokens x --samples",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(extra: tuple[str, ...], option: str) -> None:
    usage_error(run("cost", "--model", "qwen3-8b", *BASE, *extra), option)


def test_unknown_names_exit_2_naming_the_option() -> None:
    usage_error(run("cost", "--model", "qwen3-9b", *BASE, "--gen-tokens", "1"), "--model")
    out = run(
        "cost",
        "--model",
        "qwen3-8b",
        "--hardware",
        "tpu",
        "--prompt-tokens",
        "1",
        "--gen-tokens",
        "1",
    )
    usage_error(out, "--hardware: unknown hardware 'tpu'")
    usage_error(run("cost", "--family", "gpt", *BASE, "--gen-tokens", "1"), "--family")


def test_argparse_errors_exit_2() -> None:
    out = run("cost", "--model", "qwen3-8b", *BASE, "--gen-tokens", "1", "--attention", "foo")
    assert out.returncode == 2 and "--attention" in out.stderr
    out = run("cost", "--model", "qwen3-8b", *BASE)
    assert out.returncode == 2 and "--gen-tokens" in out.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["reference"],
        ["catalog"],
        ["cost"],
        ["plan"],
        ["plan", "training"],
        ["plan", "lifetime"],
        ["sweep"],
        ["plot"],
        ["plot", "iso-cost"],
    ],
)
def test_help_shows_an_example(command: list[str]) -> None:
    out = ok(*command, "--help")
    assert "example" in out.stdout and "scaleplan " + command[0] in out.stdout
