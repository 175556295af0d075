"""The result schemas the core defines once (rust/python/src/schema.rs, ``_core.SCHEMAS``)
against the Python dataclasses, their docstrings, the binding's columns and the proto messages."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan._schema import SCHEMAS, field_line
from scaleplan.commands import joint as cli_joint
from scaleplan.commands import testtime as cli_testtime
from scaleplan.grpc import conversions
from scaleplan.v1 import cost_pb2, plan_pb2, planner_pb2

RESULTS: list[type] = [
    sp.InferenceCost,
    sp.TrainingCost,
    sp.TrainingPlan,
    sp.LifetimePlan,
    sp.TestTimePlan,
    sp.TestTimeFrontier,
    sp.JointPlan,
    sp.LawFit,
    sp.Calibration,
    sp.Uncertainty,
    sp.FittedAccuracy,
    sp.AccuracyFit,
    sp.PassAtK,
    sp.ParScalePlan,
    sp.AgentPlan,
    sp.RagPlan,
    sp.RagFit,
]

# The binding's column lists, by result (the plans' extrapolation columns follow their own).
COLUMNS: dict[str, list[str]] = {
    "InferenceCost": _core.INFERENCE_COST_FIELDS,
    "TrainingCost": _core.TRAINING_COST_FIELDS,
    "TrainingPlan": _core.TRAINING_PLAN_FIELDS,
    "LifetimePlan": _core.LIFETIME_PLAN_FIELDS,
    "TestTimePlan": _core.TEST_TIME_FIELDS,
    "JointPlan": _core.JOINT_FIELDS,
    "ParScalePlan": _core.PARSCALE_PLAN_FIELDS,
    "AgentPlan": _core.AGENT_FIELDS,
    "RagPlan": _core.RAG_PLAN_FIELDS,
}

# Proto messages of each result, with the Python -> wire renames the conversions use.
MESSAGES: list[tuple[str, Any, dict[str, str]]] = [
    ("InferenceCost", cost_pb2.InferenceCost, conversions.INFERENCE_COST_FIELDS),
    ("InferenceCost", cost_pb2.InferenceCostColumns, conversions.INFERENCE_COST_FIELDS),
    ("TrainingCost", cost_pb2.TrainingCost, conversions.TRAINING_COST_FIELDS),
    ("TrainingPlan", plan_pb2.TrainingPlan, conversions.TRAINING_PLAN_FIELDS),
    ("LifetimePlan", plan_pb2.LifetimePlan, conversions.LIFETIME_PLAN_FIELDS),
    ("TestTimePlan", plan_pb2.TestTimePlan, conversions.TEST_TIME_PLAN_FIELDS),
    ("TestTimePlan", plan_pb2.TestTimePlanColumns, conversions.TEST_TIME_PLAN_FIELDS),
    ("JointPlan", plan_pb2.JointPlan, conversions.JOINT_PLAN_FIELDS),
    ("JointPlan", plan_pb2.JointPlanColumns, conversions.JOINT_PLAN_FIELDS),
    ("Uncertainty", plan_pb2.Uncertainty, {}),
    ("FittedAccuracy", plan_pb2.FittedAccuracy, {}),
    ("AccuracyFit", plan_pb2.AccuracyFit, {}),
    ("ParScalePlan", plan_pb2.ParScalePlan, conversions.PARSCALE_PLAN_FIELDS),
    ("AgentPlan", plan_pb2.AgentPlan, conversions.AGENT_PLAN_FIELDS),
    ("RagPlan", planner_pb2.RagPlan, conversions.RAG_PLAN_FIELDS),
]

# Fields a message numbers after the others because they were added to it later (field numbers
# never move); every other field is numbered in the schema's order.
ADDED_LATER: dict[str, tuple[str, ...]] = {
    "TestTimePlan": ("task", "aggregator"),
    "JointPlan": ("task", "aggregator"),
    "TrainingPlan": ("loss_units", "uncertainty"),
    "LifetimePlan": ("loss_units",),
}
# Every plan's provenance is field 40 of its message (docs/planning.md, "Provenance").
PROVENANCE_PLANS = (
    "TrainingPlan",
    "LifetimePlan",
    "TestTimePlan",
    "JointPlan",
    "ParScalePlan",
    "AgentPlan",
    "RagPlan",
)
for _plan in PROVENANCE_PLANS:
    ADDED_LATER[_plan] = (*ADDED_LATER.get(_plan, ()), "provenance")


def _public_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if not f.name.startswith("_")]


def test_every_result_has_a_schema() -> None:
    assert sorted(SCHEMAS) == sorted(c.__name__ for c in RESULTS)


@pytest.mark.parametrize("cls", RESULTS, ids=lambda c: c.__name__)
def test_dataclass_fields_are_the_schema_in_order(cls: type) -> None:
    assert [f.name for f in _public_fields(cls)] == [f.name for f in SCHEMAS[cls.__name__]]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_field_names_are_unique(name: str) -> None:
    names = [f.name for f in SCHEMAS[name]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("cls", RESULTS, ids=lambda c: c.__name__)
def test_every_field_has_a_description_and_every_number_a_unit(cls: type) -> None:
    annotations = {f.name: str(f.type) for f in _public_fields(cls)}
    for f in SCHEMAS[cls.__name__]:
        assert f.description.endswith("."), f.name
        assert len(f.description) > 10, f.name
        # A plan's or a cost's number (float or array) carries a unit; a flag or a text none.
        if annotations[f.name].startswith("FloatOrArray"):
            assert f.unit, f"{cls.__name__}.{f.name} is a number without a unit"
        if annotations[f.name].startswith(("bool", "str")):
            assert not f.unit, f"{cls.__name__}.{f.name} is a flag or a text with a unit"


@pytest.mark.parametrize("cls", RESULTS, ids=lambda c: c.__name__)
def test_help_lists_every_field_with_its_unit(cls: type) -> None:
    doc = inspect.getdoc(cls) or ""
    flat = " ".join(doc.split())
    for f in SCHEMAS[cls.__name__]:
        assert " ".join(field_line(f).split()) in flat, f.name
    # the class's own summary stays first
    assert not doc.startswith("Fields")


def test_help_shows_units_written_by_hand() -> None:
    """A few units checked against the cost model by hand (docs/cost-model.md)."""
    cost = inspect.getdoc(sp.InferenceCost) or ""
    assert "eflops [eFLOPs]:" in cost
    assert "latency_s [s]:" in cost
    assert "kv_memory_bytes_per_query [bytes]:" in cost
    assert "min_gpus [GPUs]:" in cost
    test_time = inspect.getdoc(sp.TestTimePlan) or ""
    assert "cost [<unit>]:" in test_time and "gen_tokens [tokens]:" in test_time
    joint = inspect.getdoc(sp.JointPlan) or ""
    assert "total_cost [<unit>]:" in joint and "accuracy [fraction]:" in joint
    assert "gpu_hours [GPU-h]:" in (inspect.getdoc(sp.TrainingCost) or "")


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_binding_columns_are_the_schema_columns_in_order(name: str) -> None:
    columns = [c for c in COLUMNS[name] if not c.startswith("extrapolated:")]
    assert columns == [f.name for f in SCHEMAS[name] if f.column]
    # the extrapolation columns come last, one (value, bound, factor) per variable
    tail = COLUMNS[name][len(columns) :]
    assert len(tail) in (0, 3 * len(_core.EXTRAPOLATION_VARIABLES))


@pytest.mark.parametrize(
    ("name", "message", "renames"), MESSAGES, ids=lambda v: getattr(v, "__name__", None)
)
def test_proto_fields_are_the_schema(name: str, message: Any, renames: dict[str, str]) -> None:
    schema = [renames.get(f.name, f.name) for f in SCHEMAS[name]]
    by_number = [f.name for f in sorted(message.DESCRIPTOR.fields, key=lambda f: f.number)]
    assert set(by_number) == set(schema)
    later = [renames.get(n, n) for n in ADDED_LATER.get(name, ())]
    assert [n for n in by_number if n not in later] == [n for n in schema if n not in later]


def test_row_values_land_in_their_named_fields() -> None:
    """Name and value of each column come from one schema entry: a training plan at a budget,
    checked against C = 6 N D and tokens / params computed here."""
    p = sp.plan_training(budget_flops=1e21, law="besiroglu2024")
    assert p.compute_flops == pytest.approx(6 * p.params * p.tokens, rel=1e-9)
    assert p.tokens_per_param == pytest.approx(p.tokens / p.params, rel=1e-12)
    assert p.effective_tokens == p.tokens and p.feasible is True
    c = sp.inference_cost("llama-3.1-8b", "h100-sxm", prompt_tokens=128, gen_tokens=1024)
    assert c.flops == pytest.approx(c.prefill_flops + c.decode_flops, rel=1e-12)
    assert c.bytes == pytest.approx(c.kv_bytes + c.weight_bytes, rel=1e-12)
    assert c.latency_s >= c.ttft_s > 0 and c.binding == "none"
    costs = sp.training_cost("llama-3.1-8b", np.array([1e12, 2e12]), "h100-sxm")
    assert costs.days == pytest.approx(np.asarray(costs.wall_seconds) / 86400.0, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "unit", "columns", "derived"),
    [
        (
            "TestTimePlan",
            unit,
            cli_testtime.columns(unit, oracle=True, aggregator="coverage"),
            set(),
        )
        for unit in ("flops", "eflops", "seconds", "usd")
    ]
    + [
        ("JointPlan", unit, cli_joint._columns(goal, unit, True), {"queries", "training_share"})
        for unit in ("flops", "eflops", "gpu_hours", "usd")
        for goal in ("budget", "target_accuracy")
    ],
)
def test_cli_table_columns_render_the_schema_units(
    name: str, unit: str, columns: list[Any], derived: set[str]
) -> None:
    """The CLI's tables pick their columns and labels; each is a schema field (or a quantity
    the CLI derives) and renders in the schema's unit."""
    units = {f.name: f.unit for f in SCHEMAS[name]}
    goals = {"budget", "target_accuracy"}
    for column, _, render in columns:
        assert column in units or column in derived | goals, column
        expected = {
            "s": fmt.seconds(0.25),
            "fraction": "25.0%",
            "<unit>": fmt.quantity(0.25, unit),
        }.get(units.get(column, ""))
        if expected is not None:
            assert render(0.25) == expected, column


def test_every_unit_is_listed_in_the_docs() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "planning.md").read_text()
    section = text.split("## Result fields", 1)[1].split("\n## ", 1)[0]
    for unit in {f.unit for fields in SCHEMAS.values() for f in fields} - {""}:
        assert f"`{unit}`" in section, unit


def test_the_wire_knows_which_plan_numbers_may_be_none() -> None:
    """A plan number that may be None as well as NaN (its annotation says so) travels as an
    absent field, NaN as NaN; the conversions list them."""
    plans = [sp.TrainingPlan, sp.LifetimePlan, sp.TestTimePlan, sp.JointPlan, sp.AgentPlan]
    optional = {
        f.name
        for cls in plans
        for f in _public_fields(cls)
        if str(f.type).startswith("FloatOrArray") and str(f.type).endswith("| None")
    }
    assert optional == conversions.NONE_OR_NAN_PLAN_FIELDS


def test_every_plan_message_carries_its_provenance_as_field_40() -> None:
    """One Provenance message, reused by every plan message under one number."""
    carried = {
        name for name, message, _ in MESSAGES if "provenance" in message.DESCRIPTOR.fields_by_name
    }
    assert carried == set(PROVENANCE_PLANS)
    for name, message, _ in MESSAGES:
        if name in PROVENANCE_PLANS:
            field = message.DESCRIPTOR.fields_by_name["provenance"]
            assert field.number == 40 and field.message_type.full_name == "scaleplan.v1.Provenance"
