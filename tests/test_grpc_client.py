"""scaleplan.Client derived from the façade: the same parameters (generated, checked here), every
argument type the façade accepts (lists, numpy arrays and scalars, catalog objects) giving the
façade's result or a clear error naming the field, and one chunking for the CLI, the façade and
the server."""

from __future__ import annotations

import dataclasses
import inspect
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from cli_support import json_lines, ok
from grpc_support import assert_same
from scaleplan.errors import InvalidArgumentError

REPO = Path(__file__).resolve().parent.parent


# ---- the signatures ----


def test_generated_methods_are_up_to_date() -> None:
    """scripts/gen_client.py --check: _remote.py is what the façade's signatures give."""
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_client.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


FORWARDED = {
    "plan_test_time": (sp.frontier_test_time, {"budgets", "unit"}),
    "frontier_joint": (sp.plan_joint, {"budget", "target_accuracy"}),
}


@pytest.mark.parametrize(
    "name",
    [
        "inference_cost",
        "iter_inference_cost_sweep",
        "inference_cost_sweep",
        "training_cost",
        "plan_training",
        "plan_lifetime",
        "plan_test_time",
        "frontier_test_time",
        "plan_joint",
        "frontier_joint",
        "fit_law",
        "plan_parscale",
    ],
)
def test_client_takes_the_facade_parameters(name: str) -> None:
    """Each method has its façade function's parameters, defaults and annotations (those of
    the function a ``**kwargs`` is passed on to as well), less catalog/cancel/max_points (and
    inference_cost's fields/out, which place the local kernel's output), plus
    timeout_s (and chunk_size for frontiers); help() shows them."""
    facade = getattr(sp, name)
    params = {
        k: p
        for k, p in inspect.signature(facade).parameters.items()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    if name in FORWARDED:
        target, dropped = FORWARDED[name]
        for k, p in inspect.signature(target).parameters.items():
            if k not in dropped:
                params.setdefault(k, p)
    local = ("catalog", "cancel", "max_points", "fields", "out")
    want = {k: p for k, p in params.items() if k not in local}
    got = dict(inspect.signature(getattr(sp.Client, name)).parameters)
    assert got.pop("self").kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert got.pop("timeout_s").default is None
    if name.startswith("frontier_"):
        assert got.pop("chunk_size").default == 0
    assert list(got) == list(want)
    for k, p in want.items():
        assert (got[k].default, got[k].kind) == (p.default, p.kind), k
        if k != "accuracy":  # the client also takes measured rows
            assert got[k].annotation == p.annotation, k
    assert f"scaleplan.{name}" in (getattr(sp.Client, name).__doc__ or "")


# ---- the same result as the façade, for every kind of argument it takes ----

QWEN: dict[str, Any] = {"model": "qwen3-8b", "hardware": "h100-sxm"}
COST_CASES: dict[str, dict[str, Any]] = {
    # the new-user report: lists where the façade accepts them
    "gen_tokens list": {**QWEN, "prompt_tokens": 512, "gen_tokens": [1024, 2048]},
    "numpy array": {**QWEN, "prompt_tokens": 512, "gen_tokens": np.array([1024, 8192, 32768])},
    "2-D broadcast": {**QWEN, "prompt_tokens": [[128], [4096]], "gen_tokens": [1024, 2048, 4096]},
    "zipped lists": {**QWEN, "prompt_tokens": [128, 256], "gen_tokens": [1024, 2048]},
    "open mesh, axes in another order": {
        **QWEN,
        "prompt_tokens": [128, 256, 512],
        "gen_tokens": [[1024], [2048]],
    },
    "3-D mesh with a gap": {
        **QWEN,
        "prompt_tokens": 512,
        "gen_tokens": np.array([1024, 2048, 4096]).reshape(3, 1, 1),
        "samples": [1, 8],
    },
    "one-element list": {**QWEN, "prompt_tokens": 512, "gen_tokens": [1024]},
    "batch sizes": {
        **QWEN,
        "prompt_tokens": 512,
        "gen_tokens": 1024,
        "serving": sp.Serving(batch=np.array([1.0, 8.0, 64.0])),
    },
    "batch sizes zipped with prompts": {
        **QWEN,
        "prompt_tokens": [128, 512, 4096],
        "gen_tokens": 1024,
        "serving": sp.Serving(batch=np.array([1.0, 8.0, 64.0])),
    },
    "batch max, samples array": {
        **QWEN,
        "prompt_tokens": 512,
        "gen_tokens": 1024,
        "samples": np.array([1, 4]),
        "serving": sp.Serving(batch="max"),
    },
    "numpy scalars": {
        **QWEN,
        "prompt_tokens": np.int64(512),
        "gen_tokens": np.float32(1024),
        "samples": np.array(4),
    },
    "sparse attention arrays": {
        **QWEN,
        "prompt_tokens": 512,
        "gen_tokens": 32768,
        "attention": np.array([[f"block_topk:{s}:{b}" for s in (1024, 4096)] for b in (16, 64)]),
    },
    "attention list, prompt array": {
        **QWEN,
        "prompt_tokens": [[128], [512]],
        "gen_tokens": 32768,
        "attention": ["topk:1024", ("topk", 4096), "topk:256"],
    },
    "catalog objects": {
        "model": sp.model("qwen3-8b"),
        "hardware": sp.hardware("h100-sxm"),
        "prompt_tokens": 512,
        "gen_tokens": 1024,
    },
}


@pytest.mark.parametrize("kwargs", COST_CASES.values(), ids=COST_CASES.keys())
def test_inference_cost_matches_the_facade(client: sp.Client, kwargs: dict[str, Any]) -> None:
    assert_same(client.inference_cost(**kwargs), sp.inference_cost(**kwargs))


def test_inference_cost_of_a_list_has_the_list_shape(client: sp.Client) -> None:
    cost = client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=[1024, 2048])
    assert np.shape(cost.flops) == (2,)
    # decode FLOPs grow with the tokens generated: the second point, twice as long, costs more
    assert cost.decode_flops[1] > 1.9 * cost.decode_flops[0]


PLAN_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "training, numpy goal": ("plan_training", {"budget_flops": np.float64(1e22)}),
    "training, LossLaw object": (
        "plan_training",
        {"budget_flops": 1e21, "law": sp.law("hoffmann2022")},
    ),
    "training cost, token list": ("training_cost", {**QWEN, "tokens": [1e9, 1e11]}),
    "training cost, scalar": ("training_cost", {**QWEN, "tokens": 1e10, "gpus": 8}),
    "lifetime, hardware object": (
        "plan_lifetime",
        {
            "target_loss": 2.3,
            "queries": 1e9,
            "prompt_tokens": 100,
            "gen_tokens": 200,
            "hardware": sp.hardware("h100-sxm"),
            "family": "qwen3-dense",
        },
    ),
    "joint, budget list (a frontier)": (
        "plan_joint",
        {"budget": [1e5, 1e6], "queries": 1e8},
    ),
    "test-time frontier, numpy budgets": (
        "frontier_test_time",
        {"budgets": np.geomspace(1e13, 1e17, 5), "hardware": "h100-sxm"},
    ),
    "parscale, hardware object and stream list": (
        "plan_parscale",
        {
            "target_loss": 1.02,
            "hardware": sp.hardware("h100-sxm"),
            "prompt_tokens": 512,
            "gen_tokens": 1024,
            "streams": [1, 4],
        },
    ),
    "test-time plan, preset name": (
        "plan_test_time",
        {"budget_eflops": 1e15, "models": ["qwen3-8b"], "accuracy": "aime24-qwen3"},
    ),
}


@pytest.mark.parametrize("case", PLAN_CASES.values(), ids=PLAN_CASES.keys())
def test_planners_match_the_facade(client: sp.Client, case: tuple[str, dict[str, Any]]) -> None:
    name, kwargs = case
    got = getattr(client, name)(**kwargs)
    want = getattr(sp, name)(**kwargs)
    if isinstance(want, sp.TestTimeFrontier):
        assert_same(got.plan, want.plan)
        assert_same(got.per_model, want.per_model)
        assert np.array_equal(got.budgets, want.budgets)
    else:
        assert_same(got, want)


# ---- or a clear error naming the field ----


def test_planner_arrays_are_refused_naming_the_field(client: sp.Client) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.plan_training(budget_flops=[1e21, 1e22])
    assert caught.value.field == "budget_flops"
    assert "frontier" in caught.value.message


def test_a_model_of_ones_own_is_priced_as_locally(client: sp.Client) -> None:
    """Model objects travel whole (model_spec): a model the server's catalog lacks, or has
    with other numbers, prices as the façade prices it."""
    for mine in (
        dataclasses.replace(sp.model("qwen3-8b"), name="my-model"),
        dataclasses.replace(sp.model("qwen3-8b"), layers=12),  # the name, other numbers
    ):
        kwargs = {"prompt_tokens": 512, "gen_tokens": [1024, 4096]}
        assert_same(
            client.inference_cost(mine, "h100-sxm", **kwargs),
            sp.inference_cost(mine, "h100-sxm", **kwargs),
        )


def test_hardware_not_in_the_servers_catalog_is_refused(client: sp.Client) -> None:
    changed = dataclasses.replace(sp.hardware("h100-sxm"), hbm_bytes=1e9)
    with pytest.raises(InvalidArgumentError) as caught:
        client.inference_cost("qwen3-8b", changed, prompt_tokens=512, gen_tokens=1024)
    assert caught.value.field == "hardware"
    assert "'h100-sxm'" in caught.value.message


@pytest.mark.parametrize(
    ("prompt_tokens", "gen_tokens", "index"),
    [
        ([[128], [-5]], [1024, 2048], 2),  # an open mesh (a sweep): -5 first at flat point 2
        ([128, 256, -5], [[1024], [2048]], 2),  # another order: -5 first at point 2
        ([128, -5], [1024, 2048], 1),  # zipped (one call per point)
    ],
)
def test_a_bad_point_is_named_like_the_facade_names_it(
    client: sp.Client, prompt_tokens: Any, gen_tokens: Any, index: int
) -> None:
    kwargs = {**QWEN, "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens}
    with pytest.raises(InvalidArgumentError) as local:
        sp.inference_cost(**kwargs)
    with pytest.raises(InvalidArgumentError) as remote:
        client.inference_cost(**kwargs)
    assert remote.value.field == local.value.field == "prompt_tokens"
    assert remote.value.index == local.value.index == index


def test_bad_axis_shape_names_the_argument(client: sp.Client) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.inference_cost(**QWEN, prompt_tokens=[1, 2, 3], gen_tokens=[1, 2])
    assert caught.value.field == "gen_tokens"


# ---- one chunking: façade, server and CLI give the same rows ----

GRID: dict[str, Any] = {
    "prompt_tokens": [128, 4096],
    "gen_tokens": [1024, 2048, 8192],
    "samples": [1, 4],
}


@pytest.mark.parametrize("chunk_size", [1, 5, 12, 100])
def test_sweep_chunks_are_the_same_local_and_remote(client: sp.Client, chunk_size: int) -> None:
    local = list(sp.iter_inference_cost_sweep(**QWEN, **GRID, chunk_size=chunk_size))
    remote = list(client.iter_inference_cost_sweep(**QWEN, **GRID, chunk_size=chunk_size))
    assert [c.start_index for c in local] == list(range(0, 12, chunk_size))
    assert len(remote) == len(local)
    for got, want in zip(remote, local, strict=True):
        assert_same(got, want)
    # the grid in C order, the last axis fastest: point 1 is (128, 1024, samples 4)
    assert [local[0].points[k][0] for k in GRID] == [128, 1024, 1]
    whole = sp.inference_cost_sweep(**QWEN, **GRID)
    mesh = np.ix_(*(np.asarray(v, dtype=float) for v in GRID.values()))
    assert_same(whole, sp.inference_cost(**QWEN, **dict(zip(GRID, mesh, strict=True))))
    assert_same(client.inference_cost_sweep(**QWEN, **GRID), whole)


def test_cli_sweep_rows_are_the_facade_rows(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'model = "qwen3-8b"\nhardware = "h100-sxm"\n'
        "prompt_tokens = [128, 4096]\ngen_tokens = [1024, 2048, 8192]\nsamples = [1, 4]\n"
    )
    out = ok("sweep", "--grid", str(grid), "--out", "-", "--format", "jsonl", "--chunk-rows", "5")
    rows = json_lines(out.stdout)
    chunks = list(sp.iter_inference_cost_sweep(**QWEN, **GRID, chunk_size=5))
    assert len(rows) == sum(len(c) for c in chunks) == 12
    i = 0
    for chunk in chunks:
        for j in range(len(chunk)):
            row = rows[i]
            for k in GRID:
                assert row[k] == chunk.points[k][j], (i, k)
            for f in dataclasses.fields(sp.InferenceCost):
                want = getattr(chunk.cost, f.name)[j]
                got = row[f.name]
                if isinstance(want, np.floating) and not math.isfinite(want):
                    assert got is None or not math.isfinite(float(got)), (i, f.name)
                else:
                    assert got == want, (i, f.name)
            i += 1


def test_sweep_limits_are_checked_before_pricing() -> None:
    with pytest.raises(sp.errors.LimitExceededError) as caught:
        sp.iter_inference_cost_sweep(**QWEN, **GRID, max_points=11)
    assert (caught.value.field, caught.value.limit, caught.value.got) == ("grid", 11, 12)
    for bad in (0, sp.sweep.MAX_CHUNK_POINTS + 1, 2.5, True):
        with pytest.raises(InvalidArgumentError) as caught:
            sp.iter_inference_cost_sweep(**QWEN, **GRID, chunk_size=bad)  # type: ignore[arg-type]
        assert caught.value.field == "chunk_size"
    with pytest.raises(InvalidArgumentError) as caught:
        sp.iter_inference_cost_sweep(**QWEN, prompt_tokens=[[1, 2]], gen_tokens=1)
    assert caught.value.field == "prompt_tokens"


def test_a_bad_sweep_point_names_its_axis_value() -> None:
    chunks = sp.iter_inference_cost_sweep(
        **QWEN, prompt_tokens=[128, 256], gen_tokens=[1024, -1, 2048], chunk_size=4
    )
    with pytest.raises(InvalidArgumentError) as caught:
        list(chunks)
    assert (caught.value.field, caught.value.index) == ("gen_tokens", 1)
    assert str(caught.value) == "element 1: gen_tokens: must be > 0, got -1"


def test_mypy_checks_calls_against_the_facade_types(tmp_path: Path) -> None:
    """mypy --strict sees the façade's parameter types on the client's methods: a list of
    tokens and timeout_s pass, a misspelt option, a spelling where a Serving goes and catalog=
    are errors."""
    snippet = tmp_path / "caller.py"
    snippet.write_text(
        "import scaleplan as sp\n"
        "\n"
        "\n"
        "def use(client: sp.Client) -> None:\n"
        "    cost: sp.InferenceCost = client.inference_cost(\n"
        '        "qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=[1024, 2048], timeout_s=5\n'
        "    )\n"
        "    client.plan_joint(budget=1e6, queries=1e9, batch_size=3)  # line 8\n"
        '    client.inference_cost("m", "h", prompt_tokens=1, gen_tokens=1, serving="max")\n'
        "    client.plan_training(budget_flops=1e21, catalog=None)  # line 10\n"
    )
    # In its own process: mypy in this one would grow the test run's memory by ~400 MB.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    out = done.stdout
    errors = sorted({int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line})
    assert done.returncode == 1 and errors == [8, 9, 10], out + done.stderr


def test_pointwise_calls_are_bounded(client: sp.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """More points than MAX_POINTS from several varying arguments is refused before any call."""
    monkeypatch.setattr(sp.grpc.client, "MAX_POINTS", 5)
    with pytest.raises(sp.errors.LimitExceededError) as caught:
        client.inference_cost(**QWEN, prompt_tokens=np.arange(1, 7), gen_tokens=np.arange(1, 7))
    assert (caught.value.field, caught.value.limit, caught.value.got) == ("prompt_tokens", 5, 6)
    # an open mesh is one sweep stream, whatever its size
    cost = client.inference_cost(**QWEN, prompt_tokens=[[128], [256]], gen_tokens=range(1, 101))
    assert np.shape(cost.flops) == (2, 100)
