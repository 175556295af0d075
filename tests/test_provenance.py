"""Provenance on every plan (docs/planning.md, "Provenance"): where each input comes from, built
once per call, carried by every planner, printed at the end of the CLI's plan header and sent
over gRPC. The expected kinds follow the rules of docs/planning.md; the expected counts are the
points each fit was given here (runs, problems, rows, resamples), counted by the test."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from cli_support import REPO, csv_rows, json_lines, ok
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan.errors import InvalidArgumentError
from scaleplan.grpc import conversions
from scaleplan.plan import ALGORITHMIC_PROGRESS
from scaleplan.provenance import KINDS, Input, Provenance
from scaleplan.v1 import plan_pb2

CALIBRATION_RUNS = REPO / "examples" / "data" / "vllm_bench_qwen3_8b_h100.jsonl"
EVAL = REPO / "examples" / "data" / "synthetic_eval.csv"
BETA_EVAL = REPO / "examples" / "data" / "synthetic_eval_betabinomial.csv"
AGENT = REPO / "examples" / "data" / "synthetic_agent_table.csv"

# Twelve runs drawn exactly from hoffmann2022 on a 3 x 4 grid of (N, D): a fit on them rests on
# 12 runs.
PARAMS = np.repeat([1e8, 4e8, 1.6e9], 4)
TOKENS = np.tile([2e9, 8e9, 3.2e10, 1.28e11], 3)
N_RUNS = len(PARAMS)
BOOTSTRAP = 16


@pytest.fixture(scope="module")
def fit() -> sp.LawFit:
    truth = sp.law("hoffmann2022")
    return sp.fit_law(PARAMS, TOKENS, truth.loss(PARAMS, TOKENS), bootstrap=BOOTSTRAP, seed=1)


def _kinds(plan: Any) -> dict[str, str]:
    prov = plan.provenance
    assert isinstance(prov, Provenance)
    assert all(i.kind in KINDS for i in prov.inputs)
    return prov.kinds()  # type: ignore[no-any-return]


def _get(plan: Any, name: str) -> Input:
    found = plan.provenance.get(name)
    assert found is not None, (name, str(plan.provenance))
    return found  # type: ignore[no-any-return]


# ---- loss laws: published (any form), fitted, user -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "form", "arxiv"),
    [
        ("hoffmann2022", "chinchilla", "arXiv:2203.15556"),
        ("farseer2025", "farseer", "arXiv:2506.10972"),
        ("muennighoff2023", "muennighoff", "arXiv:2305.16264"),
    ],
)
def test_a_preset_law_is_published_with_its_form_and_citation(
    name: str, form: str, arxiv: str
) -> None:
    p = sp.plan_training(budget_flops=1e21, law=name)
    law = _get(p, "law")
    assert (law.kind, law.value, law.n) == ("published", name, None)
    assert f"{form} form" in law.detail and arxiv in law.detail
    assert _kinds(p) == {"law": "published"}  # nothing else enters a training plan now


def test_a_fitted_law_is_fitted_on_its_runs(fit: sp.LawFit) -> None:
    """``fit.law`` alone and the LawFit itself both say fitted, n = the 12 runs given; the
    LawFit adds the bootstrap resamples the uncertainty is re-solved with."""
    bare = sp.plan_training(budget_flops=1e21, law=fit.law)
    law = _get(bare, "law")
    assert (law.kind, law.n) == ("fitted", N_RUNS)
    assert "chinchilla form" in law.detail
    assert bare.provenance.get("law_samples") is None
    under = sp.plan_training(budget_flops=1e21, law=fit)
    assert _get(under, "law") == law
    samples = _get(under, "law_samples")
    assert (samples.kind, samples.n) == ("fitted", BOOTSTRAP)
    assert under.uncertainty is not None and under.uncertainty.samples == samples.n
    # A saved fit read back (the CLI's --law-fit) says the same.
    assert sp.plan_training(budget_flops=1e21, law=sp.LawFit.from_dict(fit.to_dict())).provenance


def test_a_muennighoff_fit_is_fitted_in_its_form() -> None:
    """Runs drawn from the muennighoff2023 preset with U = 1e10 unique tokens (single-epoch,
    repeated and excess-parameter runs, as docs/fitting.md asks for): the fit's law names the
    form and the runs it rests on."""
    truth, unique = sp.law("muennighoff2023"), 1e10
    single = [(n, d) for n in np.geomspace(2e7, 5e8, 5) for d in np.geomspace(1e9, 1e10, 5)]
    repeated = [(n, unique * k) for n in (1e8, 3e8) for k in (2, 4, 8, 16, 32)]
    excess = [(n, d) for n in (1e9, 2e9, 5e9, 1e10) for d in (5e9, 1e10, 4e10)]
    runs = single + repeated + excess
    n, d = (np.array(v) for v in zip(*runs, strict=True))
    fit = sp.fit_law(
        n, d, truth.loss(n, d, unique_tokens=unique), form="muennighoff", unique_tokens=unique
    )
    assert fit.converged, fit.message
    p = sp.plan_training(budget_flops=1e22, law=fit.law, unique_tokens=unique)
    law = _get(p, "law")
    assert (law.kind, law.n) == ("fitted", len(runs)) and "muennighoff form" in law.detail
    assert p.provenance.get("r_star") is None  # the fit's own R*_D, part of the law


def test_a_saved_fit_read_back_keeps_its_provenance(fit: sp.LawFit, tmp_path: Path) -> None:
    path = tmp_path / "fit.json"
    fit.save(path)
    again = sp.plan_training(budget_flops=1e21, law=sp.LawFit.load(path))
    assert again.provenance == sp.plan_training(budget_flops=1e21, law=fit).provenance


def test_a_law_of_your_own_is_user() -> None:
    mine = sp.law("hoffmann2022").replace(name="mine", E=1.7)
    assert _kinds(sp.plan_training(budget_flops=1e21, law=mine))["law"] == "user"
    # the catalog's name with other numbers is not the published law
    edited = sp.law("hoffmann2022").replace(E=1.7)
    assert _kinds(sp.plan_training(budget_flops=1e21, law=edited))["law"] == "user"


def test_algorithmic_progress_is_published_only_for_a_later_start() -> None:
    later = sp.plan_training(budget_flops=1e21, start_in_months=12)
    progress = _get(later, "algorithmic_progress")
    assert progress.kind == "published"
    assert "arXiv:2403.05812" in progress.detail  # Ho et al. 2024
    assert f"{ALGORITHMIC_PROGRESS['halving_months']} months" in progress.value
    assert sp.plan_training(budget_flops=1e21).provenance.get("algorithmic_progress") is None


def test_the_repeated_data_constant_says_whose_it_is() -> None:
    unique = 1e10
    published = sp.plan_training(budget_flops=1e22, law="hoffmann2022", unique_tokens=unique)
    r = _get(published, "r_star")
    assert r.kind == "published" and "Muennighoff" in r.detail
    assert float(r.value) == pytest.approx(15.387756, rel=1e-6)  # the paper's fitted R*_D
    given = sp.plan_training(budget_flops=1e22, unique_tokens=unique, r_star=5.0)
    assert _get(given, "r_star").kind == "user"
    # A law with its own decay constants: the constant is the law's, named by the law's input.
    own = sp.plan_training(budget_flops=1e22, law="muennighoff2023", unique_tokens=unique)
    assert own.provenance.get("r_star") is None


# ---- hardware: catalog efficiencies assumed, prices assumed with their date, calibrated ----------


def test_catalog_hardware_is_assumed_and_its_price_dated() -> None:
    p = sp.plan_lifetime(
        target_loss=2.3,
        queries=1e9,
        prompt_tokens=512,
        gen_tokens=256,
        hardware="h100-sxm",
        family="qwen3-dense",
        unit="usd",
        train_usd_per_hour=2.0,
    )
    kinds = _kinds(p)
    assert kinds["law"] == "published" and kinds["family"] == "published"
    hw = _get(p, "hardware")
    assert hw.kind == "assumed" and "decode_bw_util" in hw.detail and "prefill_mfu" in hw.detail
    train = _get(p, "train_hardware")
    assert train.kind == "assumed" and "train_mfu" in train.detail
    assert kinds["train_usd_per_hour"] == "user"
    price = _get(p, "infer_usd_per_hour")
    entry = sp.hardware("h100-sxm")
    assert price.kind == "assumed" and price.value == f"${entry.usd_per_hour:g}/GPU-h"
    assert entry.price_date in price.detail and entry.price_source in price.detail
    # In FLOPs nothing is priced: no price, no training MFU.
    flops = sp.plan_lifetime(
        target_loss=2.3,
        queries=1e9,
        prompt_tokens=512,
        gen_tokens=256,
        hardware="h100-sxm",
        family="qwen3-dense",
    )
    assert set(_kinds(flops)) == {"law", "family", "hardware"}


def test_hardware_of_your_own_and_its_price_are_user() -> None:
    mine = sp.hardware("h100-sxm").replace(decode_bw_util=0.5, usd_per_hour=1.0)
    p = sp.plan_test_time(budget_usd=0.01, hardware=mine)
    assert _kinds(p)["hardware"] == "user" and _kinds(p)["usd_per_hour"] == "user"
    given = sp.plan_test_time(budget_usd=0.01, hardware="h100-sxm", usd_per_hour=3.0)
    price = _get(given, "usd_per_hour")
    assert (price.kind, price.value) == ("user", "$3/GPU-h")


def test_entries_of_your_own_catalog_are_user() -> None:
    """Only the shipped catalog's entries are published or assumed: a hardware entry or a model
    added by a catalog file or registered is the user's, even under a catalog name."""
    shipped = sp.hardware("h100-sxm")
    cat = sp.Catalog.shipped()
    cat.add_toml(shipped.replace(name="my-h100").to_toml())
    cat.add_toml(shipped.replace(decode_bw_util=0.5).to_toml())  # the catalog name, other numbers
    for name in ("my-h100", "h100-sxm"):
        p = sp.plan_test_time(budget_eflops=1e16, hardware=name, catalog=cat)
        assert _kinds(p)["hardware"] == "user", name
    mine = dataclasses.replace(sp.model("qwen3-8b"), name="my-8b")
    with_model = sp.Catalog.shipped().with_models(mine)
    rag = {"i_doc": 0.5, "i_shot": 1.0, "budget_eflops": 1e15, "catalog": with_model}
    assert _get(sp.plan_rag(model="my-8b", **rag), "model").kind == "user"
    assert _get(sp.plan_rag(model="qwen3-8b", **rag), "model").kind == "published"


def test_calibrated_hardware_is_calibrated_on_its_runs() -> None:
    cal = sp.calibrate(CALIBRATION_RUNS, "h100-sxm")
    runs = sum(1 for line in CALIBRATION_RUNS.read_text().splitlines() if line.strip())
    p = sp.plan_test_time(budget_eflops=1e16, hardware=cal.hardware)
    hw = _get(p, "hardware")
    assert (hw.kind, hw.n, hw.value) == ("calibrated", runs, "h100-sxm-calibrated")
    # Its price is the base entry's catalog price: still an assumption.
    usd = sp.plan_test_time(budget_usd=0.01, hardware=cal.hardware)
    assert _kinds(usd)["usd_per_hour"] == "assumed"
    # A calibrated entry saved to a catalog file and read back is still calibrated.
    cat = sp.Catalog.shipped()
    cat.add_toml(cal.hardware.to_toml())
    again = sp.plan_test_time(budget_eflops=1e16, hardware=cal.hardware.name, catalog=cat)
    assert _get(again, "hardware") == hw


# ---- test-time accuracy: preset published, fit fitted, measured user -----------------------------


def test_test_time_accuracy_kinds() -> None:
    preset = sp.plan_test_time(budget_eflops=1e16)
    acc = _get(preset, "accuracy")
    assert (acc.kind, acc.value) == ("published", "aime24-qwen3")
    assert _kinds(preset)["models"] == "published" and _kinds(preset)["hardware"] == "assumed"
    measured = sp.plan_test_time(budget_eflops=1e16, accuracy=sp.Accuracy.measured(EVAL))
    assert _kinds(measured)["accuracy"] == "user"
    fitted_acc = sp.fit_accuracy(BETA_EVAL, bootstrap=0)
    fitted = sp.plan_test_time(budget_eflops=1e16, accuracy=fitted_acc)
    got = _get(fitted, "accuracy")
    # the file: 200 problems of n = 16 per (model, length)
    rows = csv_rows(BETA_EVAL.read_text())
    problems = len({r["problem"] for r in rows})
    per_problem = {int(r["n"]) for r in rows}
    assert (got.kind, got.n) == ("fitted", problems) and per_problem == {16}
    assert "16 samples per problem" in got.detail
    frontier = sp.frontier_test_time(budgets=[1e15, 1e16], accuracy=fitted_acc)
    assert frontier.plan.provenance == fitted.provenance


# ---- the other planners ------------------------------------------------------------------------


def test_joint_plans_name_their_inputs() -> None:
    j = sp.plan_joint(budget=1e6, queries=1e8, hill=2.0)
    kinds = _kinds(j)
    assert kinds["law"] == "published" and kinds["family"] == "published"
    # GPU-hours: training is timed, so the hardware's training MFU is an assumption too.
    assert "train_mfu" in _get(j, "hardware").detail and kinds["hardware"] == "assumed"
    assert kinds["hill"] == "user" and kinds["half_tokens"] == "assumed"
    assert kinds["kappa"] == "assumed" and "error_law" not in kinds
    flops = sp.plan_joint(budget=1e22, queries=1e8, unit="flops", train_mfu=0.5)
    assert "train_mfu" not in _get(flops, "hardware").detail and "train_mfu" not in _kinds(flops)


def test_a_joint_plan_under_a_fit_names_the_fit_and_its_error_law(fit: sp.LawFit) -> None:
    error = sp.law("gadre2024-redpajama").error
    assert error is not None
    j = sp.plan_joint(budget=1e6, queries=1e8, law=fit.with_error(error), k_max=2)
    kinds = _kinds(j)
    assert kinds["law"] == "fitted" and kinds["error_law"] == "user"
    assert _get(j, "law_samples").n == BOOTSTRAP


def test_parscale_plans_name_their_law_family_and_hardware() -> None:
    p = sp.plan_parscale(target_loss=1.1, hardware="h100-sxm", prompt_tokens=512, gen_tokens=256)
    law = _get(p, "law")
    assert law.kind == "published" and "arXiv:2505.10475" in law.detail
    assert _kinds(p) == {"law": "published", "family": "published", "hardware": "assumed"}
    mine = dataclasses.replace(sp.parscale_law("parscale2025-stack"), E=0.5)
    q = sp.plan_parscale(
        target_loss=1.1, hardware="h100-sxm", prompt_tokens=512, gen_tokens=256, law=mine
    )
    assert _kinds(q)["law"] == "user"


def _rag_rows() -> list[dict[str, float]]:
    """A grid drawn from the preset itself (its own a, b, c): 4 x 3 x 2 = 24 rows."""
    law = sp.rag_law()
    rows = []
    for k, m, n in itertools.product([0, 1, 5, 20], [0, 1, 4], [1, 2]):
        i_doc, i_shot = 0.2 + 0.01 * k, 0.5 + 0.1 * m
        metric = float(law.metric(k, m, n, i_doc=i_doc, i_shot=i_shot))
        rows.append(
            {"documents": k, "shots": m, "iterations": n, "i_doc": i_doc, "i_shot": i_shot}
            | {"metric": metric}
        )
    return rows


def test_rag_plans_name_a_preset_or_a_fitted_law() -> None:
    p = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=3e4)
    assert _kinds(p) == {"law": "published"} and "arXiv:2410.04343" in _get(p, "law").detail
    rows = _rag_rows()
    fitted = sp.fit_rag(rows, name="mine")
    q = sp.plan_rag(law=fitted.law, i_doc=0.5, i_shot=1.0, context_budget_tokens=3e4)
    law = _get(q, "law")
    assert (law.kind, law.n, law.value) == ("fitted", len(rows), "mine")
    priced = sp.plan_rag(
        i_doc=0.5, i_shot=1.0, budget_eflops=1e15, model="qwen3-8b", hardware="h100-sxm"
    )
    assert _kinds(priced) == {"law": "published", "model": "published", "hardware": "assumed"}


def test_agent_plans_name_the_table_and_the_tool_prices() -> None:
    rows = len(csv_rows(AGENT.read_text()))
    p = sp.plan_agent(AGENT, target_accuracy=0.3, usd_per_hour=2.5, tool_prices={"search": 0.01})
    kinds = _kinds(p)
    table = _get(p, "table")
    assert (table.kind, table.n) == ("user", rows)
    assert kinds["price_search"] == "user" and kinds["price_browse"] == "published"
    assert "arXiv:2511.17006" in _get(p, "price_browse").detail
    assert kinds["usd_per_hour"] == "user" and kinds["hardware"] == "assumed"
    assert kinds["models"] == "published"
    catalog_price = sp.plan_agent(AGENT, target_accuracy=0.3)
    assert _kinds(catalog_price)["usd_per_hour"] == "assumed"


def test_array_plans_keep_one_provenance() -> None:
    p = sp.plan_training(budget_flops=[1e20, 1e21], law="besiroglu2024")
    assert isinstance(p.provenance, Provenance)
    assert p.at(1).provenance == p.provenance
    t = sp.plan_test_time(budget_eflops=np.array([1e15, 1e16]))
    assert t.at(0).provenance == t.provenance


def test_provenance_leaves_the_numbers_alone(fit: sp.LawFit) -> None:
    """The plan under a fit is the plan of its point law, field for field, but the
    provenance (which names the resamples) and the uncertainty."""
    under = sp.plan_training(budget_flops=1e21, law=fit).to_dict()
    point = sp.plan_training(budget_flops=1e21, law=fit.law).to_dict()
    for name in set(point) - {"provenance", "uncertainty"}:
        a, b = under[name], point[name]
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), name


# ---- the CLI's header, JSON and CSV ------------------------------------------------------------


def test_cli_prints_the_inputs_at_the_end_of_the_header(fit: sp.LawFit, tmp_path: Path) -> None:
    out = ok("plan", "training", "--budget", "1e21flops", "--law", "hoffmann2022")
    header = out.stdout.splitlines()[0]
    assert "; inputs: law hoffmann2022: published (chinchilla form; Hoffmann et al. 2022" in header
    path = tmp_path / "fit.json"
    fit.save(path)
    out = ok("plan", "training", "--budget", "1e21flops", "--law-fit", str(path))
    header = out.stdout.splitlines()[0]
    assert f"law {fit.law.name}: fitted (scaleplan.fit_law, chinchilla form, n={N_RUNS})" in header
    assert f"law_samples {BOOTSTRAP} bootstrap resamples: fitted" in header
    out = ok("plan", "test-time", "--budget", "1e16eflops", "--hardware", "h100-sxm", "--json")
    (row,) = json_lines(out.stdout)
    kinds = {i["name"]: i["kind"] for i in row["provenance"]["inputs"]}
    assert kinds == {"accuracy": "published", "models": "published", "hardware": "assumed"}
    out = ok("plan", "training", "--budget", "1e21flops", "--csv")
    (cell,) = [r["provenance"] for r in csv_rows(out.stdout)]
    assert json.loads(cell)["inputs"][0]["kind"] == "published"


LIFETIME_DEMAND = ("--prompt-tokens", "512", "--gen-tokens", "1024")


def test_every_plan_command_header_names_its_inputs() -> None:
    commands = [
        ("plan", "lifetime", "--budget", "1e23flops", "--queries", "1e9", *LIFETIME_DEMAND),
        ("plan", "joint", "--budget", "1e6gpu-h", "--queries", "1e8"),
        ("plan", "agent", str(AGENT), "--target-accuracy", "0.3"),
        ("plan", "rag", "--i-doc", "0.5", "--i-shot", "1", "--context-budget", "30000"),
        (
            "plan",
            "parscale",
            "--target-loss",
            "1.1",
            "--hardware",
            "h100-sxm",
            "--prompt-tokens",
            "512",
            "--gen-tokens",
            "256",
        ),
        ("frontier", "test-time", "--budgets", "1e14eflops:1e16eflops:3"),
    ]
    for args in commands:
        first = ok(*args).stdout.splitlines()[0]
        assert "; inputs: " in first, args
        assert first.split("; inputs: ")[1].split(" ")[0] in ("law", "table", "accuracy"), first


# ---- gRPC --------------------------------------------------------------------------------------


def test_grpc_carries_the_provenance(client: sp.Client, fit: sp.LawFit) -> None:
    pairs = [
        (client.plan_training, sp.plan_training, {"budget_flops": 1e21, "law": "farseer2025"}),
        (client.plan_training, sp.plan_training, {"budget_flops": 1e21, "law": fit}),
        (
            client.plan_lifetime,
            sp.plan_lifetime,
            {
                "target_loss": 2.3,
                "queries": 1e9,
                "prompt_tokens": 512,
                "gen_tokens": 256,
                "hardware": "h100-sxm",
                "family": "qwen3-dense",
                "unit": "usd",
            },
        ),
        (client.plan_test_time, sp.plan_test_time, {"budget_eflops": 1e16}),
        (
            client.plan_test_time,
            sp.plan_test_time,
            {"budget_eflops": 1e16, "accuracy": sp.fit_accuracy(BETA_EVAL, bootstrap=0)},
        ),
        (client.plan_joint, sp.plan_joint, {"budget": 1e6, "queries": 1e8, "hill": 2.0}),
        (
            client.plan_rag,
            sp.plan_rag,
            {"i_doc": 0.5, "i_shot": 1.0, "context_budget_tokens": 3e4}
            | {"law": sp.fit_rag(_rag_rows(), name="mine").law},
        ),
        (client.plan_agent, sp.plan_agent, {"table": AGENT, "budget": 0.05}),
        (
            client.plan_rag,
            sp.plan_rag,
            {"i_doc": 0.5, "i_shot": 1.0, "context_budget_tokens": 3e4},
        ),
        (
            client.plan_parscale,
            sp.plan_parscale,
            {
                "target_loss": 1.1,
                "hardware": "h100-sxm",
                "prompt_tokens": 512,
                "gen_tokens": 256,
            },
        ),
    ]
    for remote, local, kwargs in pairs:
        args = [kwargs.pop("table")] if "table" in kwargs else []
        got, want = remote(*args, **kwargs), local(*args, **kwargs)
        assert got.provenance == want.provenance, remote
        assert isinstance(got.provenance.inputs[0], Input)
    frontier = client.frontier_test_time(budgets=[1e14, 1e15, 1e16])
    local_frontier = sp.frontier_test_time(budgets=[1e14, 1e15, 1e16])
    assert frontier.plan.provenance == local_frontier.plan.provenance
    joint = client.frontier_joint(budgets=[1e5, 1e6], queries=1e8)
    assert joint.provenance == sp.frontier_joint(budgets=[1e5, 1e6], queries=1e8).provenance


def test_a_provenance_of_no_known_kind_is_refused() -> None:
    message = plan_pb2.Provenance(inputs=[plan_pb2.ProvenanceInput(name="law", value="x")])
    with pytest.raises(InvalidArgumentError) as info:
        conversions.provenance_from(message)
    assert info.value.field == "provenance"
    # and every kind round-trips
    prov = Provenance(tuple(Input(f"x{i}", k, "v", "d", i or None) for i, k in enumerate(KINDS)))
    assert conversions.provenance_from(conversions.provenance_message(prov)) == prov


def test_help_says_where_the_header_names_its_inputs() -> None:
    for command in ("plan", "frontier"):
        text = " ".join(ok(command, "--help").stdout.split())
        assert "ends with where every input comes from" in text
        assert "docs/planning.md, 'Provenance'" in text


# ---- invariants --------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.builds(
            Input,
            name=_TEXT,
            kind=st.sampled_from(KINDS),
            value=_TEXT,
            detail=_TEXT,
            n=st.none() | st.integers(0, 2**32 - 1),
        ),
        max_size=8,
    )
)
def test_every_provenance_round_trips_through_its_message(inputs: list[Input]) -> None:
    prov = Provenance(tuple(inputs))
    wire = conversions.provenance_message(prov).SerializeToString()
    assert conversions.provenance_from(plan_pb2.Provenance.FromString(wire)) == prov


@settings(max_examples=25, deadline=None)
@given(st.floats(1e17, 1e21), st.sampled_from(["hoffmann2022", "farseer2025", "sardana2023"]))
def test_a_plan_names_the_same_well_formed_inputs_at_every_goal(budget: float, law: str) -> None:
    """Provenance is about the inputs, not the goal: the same at any budget, a fitted or
    calibrated input always with its points, a published one always with its citation."""
    one = sp.plan_training(budget_flops=budget, law=law)
    assert one.provenance == sp.plan_training(budget_flops=1e21, law=law).provenance
    for i in one.provenance.inputs:
        assert (i.n is not None) == (i.kind in ("fitted", "calibrated")) or i.kind == "user"
        assert i.kind != "published" or "arXiv:" in i.detail


# ---- review findings: a catalog's own accuracy preset, and the samples a band rests on ----

OWN_PRESET = """
[[accuracy]]
name = "my-preset"
description = "an accuracy preset of the caller's catalog"
task = "mine"
source = "measured by the caller"
reference_tokens = 30720
half_tokens = 4096
hill = 1.5
kappa = 1.0

[accuracy.pass1]
"qwen3-8b" = 0.3
"""


def test_a_preset_of_the_callers_catalog_is_the_one_planned() -> None:
    cat = sp.Catalog.shipped()
    cat.add_toml(OWN_PRESET)
    want = sp.Accuracy.preset("my-preset", catalog=cat)
    plan = sp.plan_test_time(budget_eflops=1e17, accuracy="my-preset", catalog=cat)
    assert plan.model == "qwen3-8b"
    assert plan.accuracy == pytest.approx(float(want(plan.model, plan.gen_tokens, plan.samples)))
    found = plan.provenance.get("accuracy")
    assert found is not None and found.value == "my-preset"


def test_test_time_bands_name_the_samples_they_rest_on() -> None:
    fit = sp.fit_accuracy(REPO / "examples" / "data" / "synthetic_eval.csv", bootstrap=20, seed=1)
    plan = sp.plan_test_time(budget_eflops=1e17, accuracy=fit)
    found = plan.provenance.get("accuracy_samples")
    assert plan.uncertainty is not None and found is not None
    assert (found.kind, found.n) == ("fitted", plan.uncertainty.samples)
    assert (
        sp.plan_test_time(budget_eflops=1e17, accuracy=fit.accuracy).provenance.get(
            "accuracy_samples"
        )
        is None
    )
    runs = REPO / "examples" / "data" / "vllm_bench_qwen3_8b_h100.jsonl"
    cal = sp.calibrate(runs, "h100-sxm", bootstrap=20, seed=1)
    on_cal = sp.plan_test_time(budget_eflops=1e17, hardware=cal, models=["qwen3-8b"])
    found = on_cal.provenance.get("hardware_samples")
    assert on_cal.uncertainty is not None and found is not None
    assert (found.kind, found.n) == ("calibrated", on_cal.uncertainty.samples)
