"""Loss laws of another form than Chinchilla's (docs/planning.md, "Loss-law forms"): Farseer
(Li et al. 2025, arXiv:2506.10972) against the published checks, the planners against
exhaustive numpy grids, bad input, and the same plans through the CLI and gRPC."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from cli_support import ok, run
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.errors import InvalidArgumentError
from scaleplan.grpc import conversions
from scaleplan.v1 import planner_pb2

LAW = "farseer2025"
# The coefficients, typed again here (not read from the catalog).
A3, G, B3, A2, B, B2, A1, A, B1 = -0.021, 0.169, -0.091, 88.01, -0.1, -6.287, -0.124, 0.123, 0.424
DOMAIN_MAX = 2.51e10


def by_hand(n: Any, d: Any) -> Any:
    """L(N, D) with numpy from the formula, independently of the core."""
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return np.exp(A3 * n**G + B3) + np.exp(A2 * n**B + B2) * d ** (-np.exp(A1 * n**A + B1))


def test_the_published_checks_by_hand_and_through_the_law() -> None:
    # Python's math module, not the core: L(1e9, 1e11) = 0.498568, L(2.51e10, 5e11) = 0.390645.
    def loss(n: float, d: float) -> float:
        return math.exp(A3 * n**G + B3) + math.exp(A2 * n**B + B2) * d ** -math.exp(A1 * n**A + B1)

    assert abs(loss(1e9, 1e11) - 0.498568) < 5e-7
    assert abs(loss(2.51e10, 5e11) - 0.390645) < 5e-7
    law = sp.law(LAW)
    assert law.form == "farseer" and law.units == "bits_per_char" and law.E is None
    assert law.fitted is not None and law.fitted.params_max == DOMAIN_MAX
    assert law.loss(1e9, 1e11) == pytest.approx(loss(1e9, 1e11), rel=1e-13)
    assert law.loss(2.51e10, 5e11) == pytest.approx(loss(2.51e10, 5e11), rel=1e-13)


def grid_optimum(c: float, points: int = 400_001) -> tuple[float, float]:
    """(N, loss) of the best of an exhaustive log grid over 1e6..2.51e10 at 6 N D = C."""
    n = np.geomspace(1e6, DOMAIN_MAX, points)
    loss = by_hand(n, c / (6 * n))
    i = int(np.argmin(loss))
    return float(n[i]), float(loss[i])


@pytest.mark.parametrize("budget", [1e18, 1e20, 1e21, 1e22, 5e22])
def test_a_training_plan_matches_the_grid(budget: float) -> None:
    plan = sp.plan_training(budget_flops=budget, law=LAW)
    n, best = grid_optimum(budget)
    assert plan.loss <= best * (1 + 1e-12)
    assert plan.loss == pytest.approx(best, rel=1e-9)
    assert math.log(plan.params) == pytest.approx(math.log(n), abs=2e-2)
    assert plan.loss == pytest.approx(float(by_hand(plan.params, plan.tokens)), rel=1e-12)
    assert plan.loss_units == "bits_per_char" and plan.binding == "budget"
    # 5e22 is next to the domain's bound: the optimum is interior, just below 25.1B.
    assert plan.params < DOMAIN_MAX


@pytest.mark.parametrize("budget", [6e22, 1e23, 1e24, 1e15])
def test_a_budget_outside_the_domain_is_an_error_naming_it(budget: float) -> None:
    # The grid's best sits on an edge of the domain: no interior optimum.
    n, _ = grid_optimum(budget, 20_001)
    assert n in (1e6, DOMAIN_MAX) or math.isclose(n, DOMAIN_MAX) or math.isclose(n, 1e6)
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_training(budget_flops=budget, law=LAW)
    assert caught.value.field == "budget_flops"
    assert "farseer2025" in str(caught.value) and "2.51e10" in str(caught.value)


def test_a_target_plan_is_the_least_in_domain_compute() -> None:
    plan = sp.plan_training(target_loss=0.45, law=LAW)
    assert plan.binding == "target_loss" and plan.loss == pytest.approx(0.45, rel=1e-9)
    # Budgets 1% either side: the smaller misses the target, the larger reaches it.
    below = grid_optimum(plan.compute_flops * 0.99)[1]
    above = grid_optimum(plan.compute_flops * 1.01)[1]
    assert below > 0.45 > above
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_training(target_loss=0.39, law=LAW)
    assert caught.value.field == "target_loss"


def test_a_lifetime_plan_matches_a_grid() -> None:
    q, tokens = 1e9, 500.0
    plan = sp.plan_lifetime(target_loss=0.45, queries=q, prompt_tokens=100, gen_tokens=400, law=LAW)
    assert plan.loss_units == "bits_per_char"
    n = np.geomspace(1e6, DOMAIN_MAX, 200_001)
    # D from L(N, D) = target in closed form: the data term is a power law in D at fixed N.
    room = 0.45 - np.exp(A3 * n**G + B3)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (np.exp(A2 * n**B + B2) / room) ** (1 / np.exp(A1 * n**A + B1))
    total = np.where(room > 0, 6 * n * d + q * 2 * n * tokens, np.inf)
    best = float(np.min(total))
    assert plan.total_cost <= best * (1 + 1e-9)
    assert plan.total_cost == pytest.approx(best, rel=1e-7)


def test_a_lifetime_plan_at_the_domain_names_it() -> None:
    plan = sp.plan_lifetime(target_loss=0.395, queries=0, prompt_tokens=1, gen_tokens=1, law=LAW)
    assert plan.binding == "law_domain" and plan.params == pytest.approx(DOMAIN_MAX)
    assert "largest size its loss law was validated on" in plan.explain()


def test_the_joint_planner_refuses_the_form() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_joint(budget=1e6, queries=1e8, family="qwen3-dense", hardware="h100-sxm", law=LAW)
    assert caught.value.field == "law"


def test_a_custom_farseer_law_and_its_bad_input() -> None:
    preset = sp.law(LAW)
    mine = preset.replace(name="mine")
    assert sp.plan_training(budget_flops=1e21, law=mine).loss == pytest.approx(
        sp.plan_training(budget_flops=1e21, law=LAW).loss, rel=1e-15
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"fitted": None}, "fitted.params_max"),
        ({"E": 1.0}, "E"),
        ({"units": "bpc"}, "units"),
        ({"farseer": dataclasses.replace(preset.farseer, g=math.nan)}, "farseer.g"),
    ]
    for change, field in cases:
        with pytest.raises(InvalidArgumentError) as caught:
            preset.replace(**change)
        assert caught.value.field == field
    with pytest.raises(InvalidArgumentError) as caught:
        sp.LossLaw("half", E=1.7, A=400.0, B=400.0)
    assert caught.value.field == "alpha"


def test_cli_plans_and_catalog() -> None:
    out = ok("plan", "training", "--budget", "1e21flops", "--law", LAW, "--json").stdout
    row = json.loads(out)
    row = row[0] if isinstance(row, list) else row
    want = sp.plan_training(budget_flops=1e21, law=LAW)
    assert row["params"] == pytest.approx(want.params, rel=1e-12)
    assert row["loss_units"] == "bits_per_char"
    table = ok("plan", "training", "--target-loss", "0.45", "--law", LAW).stdout
    assert "loss in bits per character" in table.splitlines()[0]
    bad = run("plan", "training", "--budget", "1e23flops", "--law", LAW)
    assert bad.returncode == 2 and "--budget" in bad.stderr and "2.51e10" in bad.stderr
    listing = ok("catalog", "laws").stdout
    line = next(x for x in listing.splitlines() if x.startswith(LAW))
    assert "farseer" in line and "bits_per_char" in line and "25.1 G" in line


def test_grpc_plans_equal_the_python_api(server: ServerThread) -> None:
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        assert client.law(LAW) == sp.law(LAW)
        for kwargs in ({"budget_flops": 1e21}, {"target_loss": 0.45}):
            assert client.plan_training(law=LAW, **kwargs) == sp.plan_training(law=LAW, **kwargs)
        custom = sp.law(LAW).replace(name="mine")
        got = client.plan_training(budget_flops=1e20, law=custom)
        assert got == sp.plan_training(budget_flops=1e20, law=custom)
        lifetime = {"target_loss": 0.45, "queries": 1e9, "prompt_tokens": 100, "gen_tokens": 400}
        assert client.plan_lifetime(law=LAW, **lifetime) == sp.plan_lifetime(law=LAW, **lifetime)
    with grpc.insecure_channel(server.target) as channel:
        request = planner_pb2.PlanTrainingRequest(budget_flops=1e23, law_name=LAW)
        with pytest.raises(grpc.RpcError) as caught:
            stub(channel).PlanTraining(request, timeout=TIMEOUT_S)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "budget_flops" in (caught.value.details() or "")
        message = conversions.law_message(sp.law(LAW))
        assert not message.HasField("irreducible_loss") and message.units == "bits_per_char"
        ok_plan = stub(channel).PlanTraining(
            planner_pb2.PlanTrainingRequest(budget_flops=1e21, custom_law=message),
            timeout=TIMEOUT_S,
        )
        assert ok_plan.plan.loss_units == "bits_per_char"
        assert ok_plan.plan.loss == pytest.approx(sp.plan_training(budget_flops=1e21, law=LAW).loss)


# ---- Muennighoff et al. 2023: the preset, the fit through the CLI and gRPC ----


def test_the_muennighoff_preset_reproduces_the_released_examples() -> None:
    # The datablations README's two worked losses (U = 25e9 unique tokens).
    law = sp.law("muennighoff2023")
    assert law.repetition == sp.Repetition(r_star_tokens=15.387756, r_star_params=5.309743)
    assert law.loss(6.34e9, 242e9, unique_tokens=25e9) == pytest.approx(2.2256440889984477, 1e-10)
    assert law.loss(8.67e9, 178e9, unique_tokens=25e9) == pytest.approx(2.2269634075087867, 1e-10)
    # Its R*_D is the data limit's default r_star: naming the published value changes nothing.
    c = 6 * 8.67e9 * 178e9
    plan = sp.plan_training(budget_flops=c, law=law, unique_tokens=25e9)
    same = sp.plan_training(budget_flops=c, law=law, unique_tokens=25e9, r_star=15.387756)
    # (its provenance says who named it: the law, or the caller; docs/planning.md, "Provenance")
    assert plan == dataclasses.replace(same, provenance=plan.provenance)
    assert "r_star" not in plan.provenance.kinds() and same.provenance.kinds()["r_star"] == "user"
    # The README's grid search for that budget: about 6.8B parameters on 227B tokens.
    assert 6.7e9 < plan.params < 6.9e9 and 2.2e11 < plan.tokens < 2.3e11


def _muennighoff_runs() -> tuple[Any, Any, Any]:
    law = sp.law("muennighoff2023")
    single = [(n, d) for n in np.geomspace(2e7, 5e8, 6) for d in np.geomspace(1e9, 1e10, 6)]
    repeated = [(n, 1e10 * k) for n in (1e8, 3e8) for k in (2, 4, 8, 16, 32, 64)]
    excess = [(n, d) for n in (1e9, 2e9, 5e9, 1e10) for d in (5e9, 1e10, 4e10)]
    n, d = (np.array(v) for v in zip(*(single + repeated + excess), strict=True))
    return n, d, law.loss(n, d, unique_tokens=1e10)


def test_cli_fits_the_muennighoff_form(tmp_path: Any) -> None:
    n, d, y = _muennighoff_runs()
    path = tmp_path / "runs.csv"
    path.write_text(
        "params,tokens,loss\n"
        + "".join(
            f"{a!r},{b!r},{c!r}\n"
            for a, b, c in zip(n.tolist(), d.tolist(), y.tolist(), strict=True)
        )
    )
    args = ("fit", "law", str(path), "--form", "muennighoff", "--unique-tokens", "1e10")
    out = json.loads(ok(*args, "--json").stdout)
    assert out["form"] == "muennighoff" and out["converged"]
    assert out["law"]["repetition"]["r_star_params"] == pytest.approx(5.309743, rel=1e-3)
    table = ok(*args).stdout
    assert "R*_D" in table and "R*_N" in table
    # With a bootstrap the decay constants get their stderr and interval (docs/fitting.md).
    boot = ok(*args, "--bootstrap", "10").stdout
    r_d = next(line for line in boot.splitlines() if line.startswith("R*_D"))
    assert "[" in r_d and "]" in r_d, boot
    bad = run(*args, "--bootstrap", "-1")
    assert bad.returncode == 2 and "--bootstrap" in bad.stderr


def test_grpc_fits_the_muennighoff_form(server: ServerThread) -> None:
    n, d, y = _muennighoff_runs()
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        remote = client.fit_law(n, d, y, form="muennighoff", unique_tokens=1e10)
        local = sp.fit_law(n, d, y, form="muennighoff", unique_tokens=1e10)
        assert remote.law == local.law and remote.law.repetition is not None
        assert client.law("muennighoff2023") == sp.law("muennighoff2023")
