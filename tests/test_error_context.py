"""Errors carry their context as data (docs/limits.md, "Errors"): the field, the element of a
batch, the row and file of an input file, the preset that named a model, the limit exceeded.
Each surface (Python, CLI, gRPC client) builds its text from that data; none parses a message.
And Ctrl-C stops a long call into the core."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from cli_support import run
from scaleplan import cancel as sp_cancel
from scaleplan.errors import (
    CatalogError,
    InvalidArgumentError,
    LimitExceededError,
    UnknownNameError,
)

ROWS = [
    {"model": "qwen3-8b", "gen_tokens": 1024, "problem": f"p{i}", "n": 16, "c": i} for i in range(4)
]


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    lines = ["model,gen_tokens,problem,n,c"]
    lines += [
        ",".join(str(r[k]) for k in ("model", "gen_tokens", "problem", "n", "c")) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the element of a batch ----


def test_an_element_error_carries_its_index_as_data() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=[1024, 0, 7])
    exc = caught.value
    assert (exc.field, exc.index, exc.row, exc.file) == ("gen_tokens", 1, None, None)
    assert exc.reason == "must be > 0, got 0"
    assert exc.message == "gen_tokens: must be > 0, got 0"  # no location in the message
    assert str(exc) == "element 1: gen_tokens: must be > 0, got 0"
    # A single value has no element to name.
    with pytest.raises(InvalidArgumentError) as caught:
        sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=0)
    assert caught.value.index is None and str(caught.value) == "gen_tokens: must be > 0, got 0"


def test_replace_copies_the_data_and_pickles() -> None:
    exc = InvalidArgumentError("hardware: unknown", field="hardware", index=2)
    moved = exc.replace(field="train_hardware", index=None)
    assert moved.message == "train_hardware: unknown" and moved.index is None
    assert exc.message == "hardware: unknown" and exc.index == 2  # the original is untouched
    back = pickle.loads(pickle.dumps(moved))
    assert type(back) is InvalidArgumentError and str(back) == str(moved)
    assert back.field == "train_hardware"
    with pytest.raises(TypeError):
        exc.replace(colour="red")


def test_train_hardware_errors_name_train_hardware() -> None:
    with pytest.raises(UnknownNameError) as caught:
        sp.plan_lifetime(
            budget=1e23, queries=1e9, prompt_tokens=512, gen_tokens=512, train_hardware="tpu-v9"
        )
    assert caught.value.field == "train_hardware" and caught.value.name == "tpu-v9"
    assert caught.value.message.startswith("train_hardware: unknown hardware 'tpu-v9'")


# ---- rows of an input file ----


def test_a_bad_eval_row_names_its_file_and_row(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[2]["n"] = "sixteen"  # the third data row
    path = _csv(tmp_path / "evals.csv", rows)
    with pytest.raises(InvalidArgumentError) as caught:
        sp.Accuracy.measured(path)
    exc = caught.value
    assert (exc.file, exc.row, exc.index, exc.field) == (str(path), 3, None, "rows.n")
    assert exc.reason == "expected a whole number, got 'sixteen'"
    assert str(exc) == f"{path} row 3: rows.n: expected a whole number, got 'sixteen'"
    # The same rows given as a list are named by their index.
    with pytest.raises(InvalidArgumentError) as caught:
        sp.Accuracy.measured(rows)
    assert (caught.value.index, caught.value.row, caught.value.file) == (2, None, None)


def test_core_row_errors_are_located_too(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[3]["c"] = 17  # more correct than samples: checked by the core
    with pytest.raises(InvalidArgumentError) as caught:
        sp.Accuracy.measured(_csv(tmp_path / "e.csv", rows))
    assert (caught.value.field, caught.value.row) == ("rows.c", 4)
    rows = [dict(r) for r in ROWS] + [dict(ROWS[1])]  # row 5 repeats row 2
    with pytest.raises(InvalidArgumentError) as caught:
        sp.Accuracy.measured(_csv(tmp_path / "dup.csv", rows))
    assert (caught.value.field, caught.value.row) == ("rows", 5)
    lines = [str(r).replace("'", '"') for r in ROWS[:2]] + ["{not json"]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidArgumentError) as caught:
        sp.Accuracy.measured(tmp_path / "e.jsonl")
    assert caught.value.row == 3 and caught.value.reason.startswith("not JSON")


def test_cli_eval_errors_name_file_row_and_column(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[2]["n"] = "sixteen"
    path = _csv(tmp_path / "evals.csv", rows)
    out = run("plan", "test-time", "--budget", "1e16eflops", "--measured", str(path))
    assert out.returncode == 2
    assert out.stderr == (
        f"scaleplan: error: {path} row 3: n: expected a whole number, got 'sixteen'\n"
    )
    missing = tmp_path / "nope.csv"
    out = run("plan", "test-time", "--budget", "1e16eflops", "--measured", str(missing))
    assert out.stderr == f"scaleplan: error: {missing}: cannot read: No such file or directory\n"


# ---- catalog files and presets ----


def test_a_missing_catalog_file_reports_path_and_reason_once(tmp_path: Path) -> None:
    missing = tmp_path / "x.toml"
    catalog = sp.Catalog.shipped()
    with pytest.raises(CatalogError) as caught:
        catalog.add_file(missing)
    exc = caught.value
    assert (exc.file, exc.entry, exc.field) == (str(missing), None, "")
    assert str(exc) == f"catalog {missing}: cannot read: No such file or directory (os error 2)"
    env = {**os.environ, "SCALEPLAN_CATALOG": str(missing)}
    out = subprocess.run(
        [sys.executable, "-m", "scaleplan.cli", "catalog"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr == (
        f"scaleplan: error: catalog {missing}: cannot read: No such file or directory "
        "(os error 2)\n"
    )


def test_a_bad_catalog_entry_names_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[hardware]]\nname = "g"\npeak_flops_bf16 = -1\n')
    with pytest.raises(CatalogError) as caught:
        sp.Catalog.shipped().add_file(path)
    assert caught.value.file == str(path) and caught.value.entry == "g"
    assert str(caught.value).startswith(f"catalog {path}: g: ")


def test_an_unknown_model_of_a_preset_names_the_preset_as_data() -> None:
    with pytest.raises(UnknownNameError) as caught:
        sp.plan_test_time(budget_eflops=1e16, models=["llama-3.1-8b"])
    exc = caught.value
    assert (exc.field, exc.name, exc.preset) == ("models", "llama-3.1-8b", "aime24-qwen3")
    assert "qwen3-8b" in exc.known and "llama-3.1-8b" not in exc.known
    assert exc.message.startswith("models: accuracy preset 'aime24-qwen3' has no model 'llama")
    with pytest.raises(UnknownNameError) as caught:
        sp.model("llama-9")
    assert caught.value.preset is None


# ---- limits ----


def test_limits_raise_limit_exceeded_with_its_numbers() -> None:
    too_many = sp_cancel.MAX_SAMPLES + 1
    with pytest.raises(LimitExceededError) as caught:
        sp.plan_test_time(budget_eflops=1e16, k_max=too_many)
    assert (caught.value.field, caught.value.limit, caught.value.got) == (
        "k_max",
        2**20,
        2**20 + 1,
    )
    majority = sp.Accuracy.preset(aggregator="majority")
    with pytest.raises(LimitExceededError) as caught:
        majority("qwen3-8b", [1024, 1024], [1, 1025])
    exc = caught.value
    assert (exc.field, exc.limit, exc.got, exc.index) == ("samples", 1024, 1025, 1)


# ---- gRPC: the client raises the same exception with the same data ----


def test_grpc_client_gets_the_same_data(client: sp.Client) -> None:
    with pytest.raises(UnknownNameError) as caught:
        client.plan_test_time(budget_eflops=1e16, models=["llama-3.1-8b"])
    assert (caught.value.name, caught.value.preset) == ("llama-3.1-8b", "aime24-qwen3")
    with pytest.raises(LimitExceededError) as limit:
        client.plan_test_time(budget_eflops=1e16, k_max=sp_cancel.MAX_SAMPLES + 1)
    assert (limit.value.field, limit.value.limit, limit.value.got) == ("k_max", 2**20, 2**20 + 1)
    with pytest.raises(LimitExceededError) as here:
        sp.plan_test_time(budget_eflops=1e16, k_max=sp_cancel.MAX_SAMPLES + 1)
    assert limit.value.message == here.value.message


def test_grpc_fit_errors_name_the_run(client: sp.Client) -> None:
    params = [1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9]
    tokens = [2e9, 4e9, 8e9, -1.0, 3.2e10, 6.4e10]
    loss = [3.0, 2.8, 2.6, 2.5, 2.4, 2.3]
    with pytest.raises(InvalidArgumentError) as remote:
        client.fit_law(params, tokens, loss)
    with pytest.raises(InvalidArgumentError) as local:
        sp.fit_law(params, tokens, loss)
    for exc in (remote.value, local.value):
        assert (exc.field, exc.index) == ("tokens", 3)
    assert remote.value.message == local.value.message


# ---- Ctrl-C ----


def _interrupt_latency(code: str) -> tuple[str, float]:
    """Start ``code`` (which prints "ready" before its long call, then "interrupted <t>" with
    ``time.perf_counter()`` when KeyboardInterrupt arrives), send SIGINT after 1 s; the
    seconds from the signal to the KeyboardInterrupt. perf_counter is CLOCK_MONOTONIC, the same
    clock in both processes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        word, at = proc.stdout.readline().split()
        return word, float(at) - sent
    finally:
        proc.kill()
        proc.wait(timeout=60)


def test_ctrl_c_stops_a_huge_inference_cost() -> None:
    # 10^7 rows: ~1.4 s in Rust, then ~0.9 s of numpy in the façade; SIGINT at 1 s lands in
    # the Rust loop, which looks at the token every 1,024 rows (docs/limits.md, "Ctrl-C").
    word, late = _interrupt_latency(
        """
        import time, numpy as np, scaleplan as sp
        g = np.arange(1.0, 1e7 + 1)
        print("ready", flush=True)
        try:
            sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=g)
            print("finished 0", flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter(), flush=True)
        """
    )
    print(f"KeyboardInterrupt {late * 1e3:.1f} ms after SIGINT (10^7-row inference_cost)")
    assert word == "interrupted"
    assert late < 5.0


def test_ctrl_c_stops_a_10e8_row_sweep(tmp_path: Path) -> None:
    grid = tmp_path / "big.toml"
    grid.write_text(
        'model = "qwen3-8b"\nhardware = "h100-sxm"\nsamples = 1\n'
        'prompt_tokens = "128:8192:10000"\ngen_tokens = "1024:32768:10000"\n'
    )
    command = ["-m", "scaleplan.cli", "sweep", "--grid", str(grid), "--out", "-", "--format", "csv"]
    proc = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3.0)
        assert proc.poll() is None, "a 10^8-row sweep finished in 3 s"
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        late = time.perf_counter() - sent
    finally:
        proc.kill()
        proc.wait(timeout=60)
    print(f"sweep of 10^8 rows exited {late * 1e3:.1f} ms after SIGINT")
    assert proc.stderr is not None
    assert code == 130 and proc.stderr.read() == "scaleplan: interrupted\n"
    assert late < 5.0


def test_no_message_carries_an_element_suffix() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=[1, 2], gen_tokens=[1, np.nan])
    assert "(at element" not in str(caught.value) and caught.value.index == 1


def test_grpc_client_names_the_row_of_an_eval_file(client: sp.Client, tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[1]["n"] = "sixteen"
    path = _csv(tmp_path / "evals.csv", rows)
    with pytest.raises(InvalidArgumentError) as caught:
        client.plan_test_time(budget_eflops=1e16, accuracy=path)
    exc = caught.value
    assert (exc.file, exc.row, exc.field) == (str(path), 2, "rows.n")
    assert exc.reason == "expected a whole number, got 'sixteen'"


def test_ctrl_c_stops_a_long_fit() -> None:
    # 10^5 runs fit in ~40 s here; the grid of starts and each L-BFGS evaluation look at the
    # token (it was seen only after all starts: ~40 s).
    word, late = _interrupt_latency(
        """
        import time, numpy as np, scaleplan as sp
        n = 100_000
        rng = np.random.default_rng(0)
        N = np.geomspace(1e7, 1e10, n)
        D = np.geomspace(1e9, 1e12, n)[rng.permutation(n)]
        L = (1.7 + 400 / N**0.34 + 410 / D**0.28) * np.exp(rng.normal(0, 0.01, n))
        print("ready", flush=True)
        try:
            sp.fit_law(N, D, L)
            print("finished 0", flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter(), flush=True)
        """
    )
    print(f"KeyboardInterrupt {late * 1e3:.1f} ms after SIGINT (fit of 10^5 runs)")
    assert word == "interrupted"
    assert late < 5.0


def test_cli_messages_are_built_from_the_data() -> None:
    out = run("plan", "test-time", "--budget", "1e16eflops", "--models", "llama-3.1-8b")
    assert out.returncode == 2
    assert out.stderr.startswith(
        "scaleplan: error: --models: accuracy preset 'aime24-qwen3' has no model 'llama-3.1-8b' "
        "(it has: "
    )
    out = run("plan", "test-time", "--budget", "1e16eflops", "--k-max", str(2**20 + 1))
    assert out.stderr == "scaleplan: error: --k-max: 1048577 exceeds the limit of 1048576\n"


# ---- façade arguments of the wrong type are named, not an AttributeError from inside ----

EXAMPLE_TABLE = Path(__file__).resolve().parent.parent / "examples" / "data"

CATALOG_CALLS: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (sp.plan_training, {"budget_flops": 1e21}),
    (
        sp.plan_lifetime,
        {"target_loss": 2.4, "queries": 1e9, "prompt_tokens": 512, "gen_tokens": 256},
    ),
    (sp.plan_test_time, {"budget_eflops": 1e19}),
    (
        sp.plan_parscale,
        {"target_loss": 1.02, "hardware": "h100-sxm", "prompt_tokens": 512, "gen_tokens": 1024},
    ),
    (sp.plan_rag, {"context_budget_tokens": 128_000, "i_doc": 0.5, "i_shot": 1.0}),
    (
        sp.plan_agent,
        {"table": EXAMPLE_TABLE / "synthetic_agent_table.csv", "target_accuracy": 0.45},
    ),
    (
        sp.calibrate,
        {"rows": EXAMPLE_TABLE / "vllm_bench_qwen3_8b_h100.jsonl", "hardware": "h100-sxm"},
    ),
]


@pytest.mark.parametrize(("fn", "kwargs"), CATALOG_CALLS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("catalog", ["shipped", 1.0, ["x"]])
def test_a_catalog_of_the_wrong_type_is_named(
    fn: Callable[..., Any], kwargs: dict[str, Any], catalog: object
) -> None:
    fn(**kwargs)  # the call is valid with the default catalog
    with pytest.raises(InvalidArgumentError) as caught:
        fn(**kwargs, catalog=catalog)
    assert caught.value.field == "catalog"
    assert type(catalog).__name__ in str(caught.value)


@pytest.mark.parametrize("prices", [0.001, "search", [("search", 0.001)]])
def test_tool_prices_that_are_not_a_mapping_are_named(prices: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_agent(
            EXAMPLE_TABLE / "synthetic_agent_table.csv", target_accuracy=0.45, tool_prices=prices
        )
    assert caught.value.field == "tool_prices"


@pytest.mark.parametrize(
    ("fn", "kwargs", "field"),
    [
        (sp.plan_training, {"budget_flops": [1e21, True]}, "budget_flops"),
        (sp.plan_test_time, {"budget_eflops": [[1e19], [False]]}, "budget_eflops"),
        (
            sp.inference_cost,
            {
                "model": "qwen3-8b",
                "hardware": "h100-sxm",
                "prompt_tokens": 128,
                "gen_tokens": (1024, True),
            },
            "gen_tokens",
        ),
        (
            sp.plan_rag,
            {"context_budget_tokens": 128_000, "i_doc": [0.5, True], "i_shot": 1.0},
            "i_doc",
        ),
    ],
)
def test_a_list_mixing_numbers_and_flags_is_refused(
    fn: Callable[..., Any], kwargs: dict[str, Any], field: str
) -> None:
    """numpy reads [1e21, True] as [1e21, 1.0]: a flag where a number belongs is named, as a bool
    array is, instead of being planned as 1."""
    with pytest.raises(InvalidArgumentError) as caught:
        fn(**kwargs)
    assert caught.value.field == field and "True/False" in str(caught.value)
