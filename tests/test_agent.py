"""The agent planner (docs/planning.md, "Agent plans"): the unified cost of Liu et al. 2025
(arXiv:2511.17006) checked by hand, the planner against brute force over the table next to
every wall, ties, goals no row meets, bad rows named by their index, the CLI and gRPC."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from cli_support import REPO, json_lines, ok, run, usage_error
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan import _core
from scaleplan.agent import DEFAULT_TOOL_PRICES
from scaleplan.errors import InvalidArgumentError, LimitExceededError, UnknownNameError
from scaleplan.v1 import plan_pb2, planner_pb2

PRICE = 2.5  # USD per GPU-hour, given (the catalog may have none)
HW = "h100-sxm"
EXAMPLE = REPO / "examples" / "data" / "synthetic_agent_table.csv"


def row(model: str, budget: float, acc: float, search: float, browse: float, **kw: Any) -> dict:
    return {
        "model": model,
        "tool_budget": budget,
        "accuracy": acc,
        "calls_search": search,
        "calls_browse": browse,
        "input_tokens": kw.pop("input_tokens", 20_000),
        "output_tokens": kw.pop("output_tokens", 2_000),
        **kw,
    }


ROWS = [
    row("qwen3-8b", 10, 0.30, 5, 3, turns=5),
    row("qwen3-8b", 50, 0.50, 20, 12, input_tokens=80_000, output_tokens=6_000, turns=20),
    row("qwen3-32b", 10, 0.45, 5, 3, turns=5),
]


def turn_cost(model: str, r: dict, serving: sp.Serving | None = None) -> sp.InferenceCost:
    """One turn of a row, priced by inference_cost (the cost model's own entry point)."""
    turns = float(r.get("turns", 1))
    return sp.inference_cost(
        model,
        HW,
        prompt_tokens=r["input_tokens"] / turns,
        gen_tokens=r["output_tokens"] / turns,
        serving=serving,
    )


def unified(r: dict, prices: dict[str, float], unit: str = "usd") -> tuple[float, float, bool]:
    """(token cost, tool cost, servable) of a row in ``unit``, computed here."""
    c = turn_cost(r["model"], r)
    gpu_s = float(r.get("turns", 1)) * float(c.gpu_seconds)
    tools = sum(v * prices[k[len("calls_") :]] for k, v in r.items() if k.startswith("calls_"))
    per_s = PRICE / 3600.0
    if unit == "usd":
        return gpu_s * per_s, tools, bool(c.feasible)
    return gpu_s, tools / per_s, bool(c.feasible)


# ---- the unified cost, by hand ----------------------------------------------------------------


def test_unified_cost_by_hand() -> None:
    """Row 2: 5 turns of 4,000 prompt and 400 generated tokens on qwen3-32b; tools 5 searches
    and 3 browses at the paper's $0.001 = $0.008."""
    p = sp.plan_agent(ROWS, target_accuracy=0.45, hardware=HW, usd_per_hour=PRICE)
    assert p.feasible and p.model == "qwen3-32b" and p.row == 2
    turn = sp.inference_cost("qwen3-32b", HW, prompt_tokens=4000, gen_tokens=400)
    assert p.gpu_seconds == pytest.approx(5 * turn.gpu_seconds, rel=1e-12)
    assert p.token_cost == pytest.approx(5 * turn.gpu_seconds * 2.5 / 3600, rel=1e-12)
    assert p.tool_cost == pytest.approx(0.008, rel=1e-12)
    assert p.cost == pytest.approx(p.token_cost + 0.008, rel=1e-12)
    assert p.tool_calls == 8.0
    assert p.latency_s == pytest.approx(5 * turn.latency_s, rel=1e-12)
    assert p.tools == ("browse", "search") and p.unit == "usd"
    assert DEFAULT_TOOL_PRICES == {"search": 0.001, "browse": 0.001}


def test_gpu_seconds_convert_the_tools_at_the_gpu_hour_price() -> None:
    """8 calls at $0.001 = $0.008 = 0.008 / (2.5 / 3600) = 11.52 GPU-seconds."""
    p = sp.plan_agent(ROWS, budget=1e9, unit="gpu_seconds", hardware=HW, usd_per_hour=PRICE)
    q = sp.plan_agent(ROWS, budget=1e9, hardware=HW, usd_per_hour=PRICE)
    assert p.row == q.row == 1
    assert p.tool_cost == pytest.approx(32 * 0.001 * 3600 / 2.5, rel=1e-12)
    assert p.token_cost == pytest.approx(q.gpu_seconds, rel=1e-12)
    # Free tools need no price at all in GPU-seconds; USD does.
    free = sp.plan_agent(
        ROWS, budget=1e9, unit="gpu_seconds", tool_prices={"search": 0, "browse": 0}
    )
    assert free.tool_cost == 0 and free.cost == pytest.approx(q.gpu_seconds, rel=1e-12)
    # gaudi3 has no catalog price (rust/core/catalog/hardware.toml): the price must be given.
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, budget=1.0, hardware="gaudi3")
    assert err.value.field == "usd_per_hour"
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, budget=1.0, unit="gpu_seconds", hardware="gaudi3")
    assert err.value.field == "usd_per_hour"


def test_tool_prices_override_the_defaults() -> None:
    p = sp.plan_agent(ROWS, target_accuracy=0.5, usd_per_hour=PRICE, tool_prices={"search": 0.01})
    assert p.tool_cost == pytest.approx(20 * 0.01 + 12 * 0.001, rel=1e-12)


# ---- the planner against brute force ------------------------------------------------------------

MODELS = ["qwen3-0.6b", "qwen3-8b", "qwen3-32b", "llama-3.1-70b"]


def random_table(seed: int, n: int = 12) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        turns = int(rng.integers(1, 30))
        out.append(
            row(
                str(rng.choice(MODELS)),
                float(rng.choice([5, 10, 25, 50, 100])),
                float(np.round(rng.uniform(0.05, 0.9), 2)),
                float(np.round(rng.uniform(0, 40), 1)),
                float(np.round(rng.uniform(0, 20), 1)),
                input_tokens=float(turns * rng.integers(500, 6000)),
                output_tokens=float(turns * rng.integers(50, 1500)),
                turns=turns,
            )
        )
    return out


def brute(table: list[dict], goal: str, value: float, prices: dict[str, float]) -> tuple:
    """(row index or None, binding) by enumerating the table with the documented rules."""
    costs = [unified(r, prices) for r in table]
    total = [t + u for t, u, _ in costs]
    servable = [s for _, _, s in costs]
    acc = [r["accuracy"] for r in table]
    idx = range(len(table))
    if goal == "target_accuracy":
        ok_rows = [i for i in idx if acc[i] >= value and servable[i]]
        if not ok_rows:
            reaching = [i for i in idx if acc[i] >= value]
            return None, ("target_accuracy" if not reaching else "memory")
        best = min(ok_rows, key=lambda i: (total[i], -acc[i], i))
        return best, "target_accuracy"
    fit = [i for i in idx if servable[i] and total[i] <= value]
    if not fit:
        return None, ("budget" if any(servable) else "memory")
    best = max(fit, key=lambda i: (acc[i], -total[i], -i))
    better = [i for i in idx if acc[i] > acc[best] + 1e-12]
    if any(servable[i] for i in better):
        return best, "budget"
    return best, ("memory" if better else "measured_table")


def goals_next_to_walls(table: list[dict], goal: str, prices: dict[str, float]) -> list[float]:
    if goal == "target_accuracy":
        accs = [r["accuracy"] for r in table]
        return sorted({v for a in accs for v in (a, a - 1e-9, min(1.0, a + 1e-9))} | {0.0, 1.0})
    costs = [sum(unified(r, prices)[:2]) for r in table]
    return sorted({v for c in costs for v in (c, c * (1 - 1e-9), c * (1 + 1e-9))} | {0.0, 1e9})


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("goal", ["target_accuracy", "budget"])
def test_planner_is_brute_force_next_to_every_wall(seed: int, goal: str) -> None:
    table = random_table(seed)
    prices = dict(DEFAULT_TOOL_PRICES)
    values = goals_next_to_walls(table, goal, prices)
    plans = sp.plan_agent(table, **{goal: values}, hardware=HW, usd_per_hour=PRICE)
    for k, v in enumerate(values):
        want, binding = brute(table, goal, v, prices)
        p = plans.at(k)
        assert p.binding == binding, (v, p)
        if want is None:
            assert not p.feasible and p.model is None and math.isnan(p.cost)
            continue
        assert p.feasible and int(p.row) == want, (v, want, p)
        assert p.model == table[want]["model"]
        assert p.accuracy == table[want]["accuracy"]
        assert p.tool_budget == table[want]["tool_budget"]
        assert p.cost == pytest.approx(sum(unified(table[want], prices)[:2]), rel=1e-9)
        if goal == "budget":
            assert p.cost <= v


def test_memory_binds_when_only_unservable_rows_meet_the_goal() -> None:
    """llama-3.1-405b's bf16 weights (~810 GB) do not fit one 80 GB H100."""
    table = [*ROWS, row("llama-3.1-405b", 10, 0.9, 5, 3)]
    p = sp.plan_agent(table, target_accuracy=0.8, usd_per_hour=PRICE)
    assert not p.feasible and p.binding == "memory"
    q = sp.plan_agent(table, budget=10.0, usd_per_hour=PRICE)
    assert q.feasible and q.row == 1 and q.binding == "memory"


def test_relaxing_the_budget_changes_the_plan() -> None:
    p = sp.plan_agent(ROWS, budget=0.01, usd_per_hour=PRICE)
    assert p.binding == "budget" and p.row == 0
    nxt = sp.plan_agent(ROWS, target_accuracy=0.45, usd_per_hour=PRICE).cost
    q = sp.plan_agent(ROWS, budget=nxt, usd_per_hour=PRICE)
    assert q.row == 2 and q.accuracy > p.accuracy


# ---- ties -------------------------------------------------------------------------------------


def test_ties() -> None:
    same = row("qwen3-8b", 10, 0.40, 5, 3)
    # equal cost: the more accurate row wins a target
    t = [same, {**same, "accuracy": 0.45, "tool_budget": 20}]
    assert sp.plan_agent(t, target_accuracy=0.4, usd_per_hour=PRICE).row == 1
    # equal accuracy: the cheaper row wins a budget (fewer tool calls)
    t = [{**same, "calls_search": 9}, same]
    assert sp.plan_agent(t, budget=1.0, usd_per_hour=PRICE).row == 1
    # identical rows: the first
    t = [same, dict(same)]
    assert sp.plan_agent(t, budget=1.0, usd_per_hour=PRICE).row == 0
    assert sp.plan_agent(t, target_accuracy=0.4, usd_per_hour=PRICE).row == 0


def test_a_target_no_row_meets_is_an_infeasible_plan() -> None:
    p = sp.plan_agent(ROWS, target_accuracy=0.9, usd_per_hour=PRICE)
    assert not p.feasible and p.binding == "target_accuracy"
    assert p.model is None and math.isnan(p.accuracy) and math.isnan(p.row)
    assert "no measured configuration reaches" in p.explain()
    q = sp.plan_agent(ROWS, budget=1e-6, usd_per_hour=PRICE)
    assert not q.feasible and q.binding == "budget"


def test_array_goals_give_one_plan_each() -> None:
    p = sp.plan_agent(ROWS, target_accuracy=[[0.3, 0.5], [0.45, 0.99]], usd_per_hour=PRICE)
    assert np.shape(p.row) == (2, 2)
    assert p.at((0, 1)).row == 1 and p.at((1, 0)).row == 2 and not p.at((1, 1)).feasible
    assert len(p.explain().splitlines()) == 4


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accuracy": 1.5}, "rows.accuracy"),
        ({"accuracy": "high"}, "rows.accuracy"),
        ({"tool_budget": -1}, "rows.tool_budget"),
        ({"calls_search": -2}, "rows.calls"),
        ({"calls_search": float("nan")}, "rows.calls"),
        ({"output_tokens": 0}, "rows.output_tokens"),
        ({"input_tokens": float("inf")}, "rows.input_tokens"),
        ({"turns": 2.5}, "rows.turns"),
    ],
)
def test_a_bad_row_is_named_with_its_index(change: dict, field: str) -> None:
    table = [dict(r) for r in ROWS]
    table[2].update(change)
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(table, budget=1.0, usd_per_hour=PRICE)
    assert err.value.field == field and err.value.index == 2, err.value


def test_table_shape_errors() -> None:
    no_accuracy = {k: v for k, v in ROWS[1].items() if k != "accuracy"}
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent([ROWS[0], no_accuracy], budget=1.0)
    assert err.value.field == "rows.accuracy" and err.value.index == 1
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent([ROWS[0], {**ROWS[1], "calls_code": 1}], budget=1.0)
    assert err.value.field == "rows.calls" and err.value.index == 1
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent([], budget=1.0)
    assert err.value.field == "rows"
    with pytest.raises(UnknownNameError) as unknown:
        sp.plan_agent([{**ROWS[0], "model": "gpt-9"}], budget=1.0, usd_per_hour=PRICE)
    assert unknown.value.field == "rows.model"
    with pytest.raises(LimitExceededError) as limit:
        sp.plan_agent([ROWS[0]] * (_core.MAX_AGENT_ROWS + 1), budget=1.0)
    assert limit.value.field == "rows" and limit.value.limit == _core.MAX_AGENT_ROWS


def test_bad_arguments_are_named() -> None:
    table = [{**ROWS[0], "calls_code": 2}]
    with pytest.raises(InvalidArgumentError, match="no price for code") as err:
        sp.plan_agent(table, budget=1.0, usd_per_hour=PRICE)
    assert err.value.field == "tool_prices"
    for prices in ({"serch": 0.001}, {"search": -1.0}, {"search": float("nan")}):
        with pytest.raises(InvalidArgumentError) as err:
            sp.plan_agent(ROWS, budget=1.0, usd_per_hour=PRICE, tool_prices=prices)
        assert err.value.field == "tool_prices"
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, budget=1.0, target_accuracy=0.5, usd_per_hour=PRICE)
    assert err.value.field == "target_accuracy"
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, target_accuracy=1.5, usd_per_hour=PRICE)
    assert err.value.field == "target_accuracy"
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, budget=-1.0, usd_per_hour=PRICE)
    assert err.value.field == "budget"
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, budget=1.0, unit="eflops", usd_per_hour=PRICE)  # type: ignore[arg-type]
    assert err.value.field == "unit"
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(ROWS, budget=1.0, usd_per_hour=-2.0)
    assert err.value.field == "usd_per_hour"


def test_a_bad_row_of_a_file_is_named_by_file_and_row(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().splitlines()
    text[3] = text[3].replace("0.38", "1.38")  # the third data row
    path = tmp_path / "table.csv"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InvalidArgumentError) as err:
        sp.plan_agent(path, budget=1.0, usd_per_hour=PRICE)
    assert err.value.field == "rows.accuracy"
    assert err.value.row == 3 and err.value.file == str(path) and err.value.index is None


def test_json_table_is_the_csv_table(tmp_path: Path) -> None:
    import csv
    import json

    rows = list(csv.DictReader(EXAMPLE.read_text().splitlines()))
    path = tmp_path / "table.json"
    path.write_text(json.dumps(rows))
    a = sp.plan_agent(path, target_accuracy=0.45, usd_per_hour=PRICE)
    b = sp.plan_agent(EXAMPLE, target_accuracy=0.45, usd_per_hour=PRICE)
    assert a == b


# ---- CLI --------------------------------------------------------------------------------------


def test_cli_plans_match_the_api() -> None:
    out = ok(
        "plan",
        "agent",
        str(EXAMPLE),
        "--target-accuracy",
        "0.45,0.7",
        "--usd-per-hour",
        "2.5",
        "--json",
    )
    lines = json_lines(out.stdout)
    p = sp.plan_agent(EXAMPLE, target_accuracy=0.45, usd_per_hour=PRICE)
    assert lines[0]["model"] == p.model and lines[0]["row"] == p.row
    assert lines[0]["cost"] == pytest.approx(p.cost, rel=1e-12)
    assert lines[1]["feasible"] is False and lines[1]["binding"] == "target_accuracy"
    table = ok(
        "plan",
        "agent",
        str(EXAMPLE),
        "--budget",
        "$0.02",
        "--usd-per-hour",
        "2.5",
        "--tool-price",
        "search=0.002",
    )
    assert "Agent plans: budgets and costs in USD per query" in table.stdout
    assert "tools browse, search" in table.stdout
    q = sp.plan_agent(EXAMPLE, budget=0.02, usd_per_hour=PRICE, tool_prices={"search": 0.002})
    assert str(q.model) in table.stdout


def test_cli_gpu_second_budgets() -> None:
    out = ok(
        "plan",
        "agent",
        str(EXAMPLE),
        "--budget",
        "30gpu-s",
        "--tool-price",
        "search=0",
        "--tool-price",
        "browse=0",
        "--json",
    )
    (line,) = json_lines(out.stdout)
    p = sp.plan_agent(
        EXAMPLE, budget=30.0, unit="gpu_seconds", tool_prices={"search": 0, "browse": 0}
    )
    assert line["unit"] == "gpu_seconds" and line["row"] == p.row


def test_cli_errors_name_the_option_or_the_row(tmp_path: Path) -> None:
    usage_error(
        run("plan", "agent", str(EXAMPLE), "--budget", "$1", "--tool-price", "serch=0"),
        "--tool-price",
    )
    usage_error(run("plan", "agent", str(EXAMPLE), "--budget", "1e15eflops"), "--budget")
    usage_error(
        run("plan", "agent", str(EXAMPLE), "--target-accuracy", "0.5", "--hardware", "gaudi3"),
        "--usd-per-hour",
    )
    bad = tmp_path / "bad.csv"
    text = EXAMPLE.read_text().splitlines()
    text[2] = text[2].replace("qwen3-8b,10,0.30", "qwen3-8b,10,x")
    bad.write_text("\n".join(text) + "\n")
    out = run("plan", "agent", str(bad), "--budget", "$1", "--usd-per-hour", "2")
    assert out.returncode == 2 and "row 2" in out.stderr and "bad.csv" in out.stderr, out.stderr


# ---- gRPC -------------------------------------------------------------------------------------


def test_client_plan_is_the_local_plan(server: ServerThread) -> None:
    with sp.Client(server.target) as client:
        for goal in ({"target_accuracy": 0.45}, {"budget": 0.03}, {"target_accuracy": 0.99}):
            remote = client.plan_agent(EXAMPLE, **goal, usd_per_hour=PRICE)  # type: ignore[arg-type]
            local = sp.plan_agent(EXAMPLE, **goal, usd_per_hour=PRICE)  # type: ignore[arg-type]
            assert _same(remote, local), (remote, local)
        remote = client.plan_agent(
            ROWS, budget=20.0, unit="gpu_seconds", tool_prices={"search": 0, "browse": 0}
        )
        local = sp.plan_agent(
            ROWS, budget=20.0, unit="gpu_seconds", tool_prices={"search": 0, "browse": 0}
        )
        assert _same(remote, local)


def _same(a: sp.AgentPlan, b: sp.AgentPlan) -> bool:
    for k, v in a.to_dict().items():
        w = getattr(b, k)
        if isinstance(v, float) and math.isnan(v):
            if not (isinstance(w, float) and math.isnan(w)):
                return False
        elif v != w:
            return False
    return True


def _row_messages(rows: Sequence[dict]) -> list[planner_pb2.AgentRow]:
    out = []
    for r in rows:
        m = planner_pb2.AgentRow(
            model=r["model"],
            tool_budget=r["tool_budget"],
            accuracy=r["accuracy"],
            input_tokens=r["input_tokens"],
            output_tokens=r["output_tokens"],
        )
        m.calls.update({k[len("calls_") :]: v for k, v in r.items() if k.startswith("calls_")})
        if "turns" in r:
            m.turns = r["turns"]
        out.append(m)
    return out


def _bad_field(server: ServerThread, request: planner_pb2.PlanAgentRequest) -> tuple[Any, str]:
    with grpc.insecure_channel(server.target) as ch, pytest.raises(grpc.RpcError) as err:
        stub(ch).PlanAgent(request, timeout=TIMEOUT_S)
    status = rpc_status.from_call(err.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return err.value.code(), str(bad.field_violations[0].field)


def test_rpc_response_and_bad_requests(server: ServerThread) -> None:
    request = planner_pb2.PlanAgentRequest(
        rows=_row_messages(ROWS), target_accuracy=0.45, usd_per_hour=PRICE
    )
    with grpc.insecure_channel(server.target) as ch:
        response = stub(ch).PlanAgent(request, timeout=TIMEOUT_S)
    assert response.plan.model == "qwen3-32b" and response.plan.row == 2
    assert response.plan.unit == plan_pb2.COST_UNIT_USD
    assert response.plan.binding == plan_pb2.PLAN_CONSTRAINT_TARGET_ACCURACY
    assert "qwen3-32b" in response.explanation
    broken = [dict(r) for r in ROWS]
    broken[1]["accuracy"] = 2.0
    request = planner_pb2.PlanAgentRequest(
        rows=_row_messages(broken), budget=1.0, usd_per_hour=PRICE
    )
    assert _bad_field(server, request) == (grpc.StatusCode.INVALID_ARGUMENT, "rows[1].accuracy")
    request = planner_pb2.PlanAgentRequest(
        rows=_row_messages(ROWS), budget=1.0, usd_per_hour=PRICE, tool_prices={"code": 0.1}
    )
    assert _bad_field(server, request) == (grpc.StatusCode.INVALID_ARGUMENT, "tool_prices")
    request = planner_pb2.PlanAgentRequest(rows=_row_messages(ROWS), usd_per_hour=PRICE)
    assert _bad_field(server, request)[0] == grpc.StatusCode.INVALID_ARGUMENT
    unknown = [{**ROWS[0], "model": "gpt-9"}]
    request = planner_pb2.PlanAgentRequest(rows=_row_messages(unknown), budget=1.0)
    assert _bad_field(server, request) == (grpc.StatusCode.NOT_FOUND, "rows.model")
