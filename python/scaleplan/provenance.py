"""Where a plan's inputs come from (docs/planning.md, "Provenance"): one :class:`Provenance`
value, built once per call from the laws, hardware, models, accuracy and prices the planner
used, attached to every plan result, printed at the end of the CLI's plan header and carried by
gRPC (the ``Provenance`` message of every plan message).

Each input is one of five kinds:

- ``published``: a catalog preset, with its citation (a loss law in any form, a ParScale or
  RAG law, an accuracy preset, catalog architectures, a paper's tool price, the
  algorithmic-progress halving time);
- ``fitted``: made by a fit on your data, with the points it rests on (``n``): a law from
  :func:`scaleplan.fit_law` (runs), an accuracy from :func:`scaleplan.fit_accuracy`
  (problems), a RAG law from :func:`scaleplan.fit_rag` (rows), the bootstrap resamples a plan
  under uncertainty is re-solved with;
- ``calibrated``: hardware from :func:`scaleplan.calibrate` (its efficiencies fitted on ``n``
  serving runs);
- ``assumed``: a catalog assumption (the efficiencies ``prefill_mfu``, ``decode_bw_util``,
  ``train_mfu``; a catalog price per GPU-hour with its date and source; a default constant);
- ``user``: given by the caller (a number passed, a law, hardware or model of your own, or a
  catalog entry with other numbers; measured eval counts; an agent table).

A fitted or calibrated entry is recognised by the object the planner was given (a
:class:`scaleplan.LawFit`, an :class:`scaleplan.AccuracyFit`) or, for a bare law or hardware
(``fit.law``, ``calibration.hardware``, an entry read back from a saved file or a gRPC
message), by the ``source`` and ``description`` the core writes on what it fits (``_MARKS``
below). An entry is the catalog's (``published`` or ``assumed``) only when it equals its
namesake in the catalog scaleplan ships, field for field: an entry of your own catalog file, a
registered model or a shipped entry with other numbers is ``user``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from scaleplan.catalog import Catalog, Hardware, Model, catalog_or_default
from scaleplan.errors import ScaleplanError

if TYPE_CHECKING:
    from scaleplan.fit import LawFit
    from scaleplan.laws import LossLaw
    from scaleplan.parscale import ParScaleLaw
    from scaleplan.rag import RagLaw
    from scaleplan.testtime import Accuracy

Kind = Literal["published", "fitted", "calibrated", "assumed", "user"]
KINDS: tuple[Kind, ...] = ("published", "fitted", "calibrated", "assumed", "user")
"""Every kind of input, in the order the proto enum numbers them."""


@dataclass(frozen=True)
class Input:
    """One input of a plan: what it is (``name``: ``law``, ``hardware``, ``usd_per_hour``,
    ...), where it comes from (``kind``), its value or entry (``value``), the citation or how it
    was made (``detail``) and, for a fitted or calibrated input, the points it rests on
    (``n``: runs, problems, rows or resamples)."""

    name: str
    kind: Kind
    value: str
    detail: str = ""
    n: int | None = None

    def __str__(self) -> str:
        extra = [x for x in (self.detail, None if self.n is None else f"n={self.n}") if x]
        return f"{self.name} {self.value}: {self.kind}" + (
            f" ({', '.join(extra)})" if extra else ""
        )


@dataclass(frozen=True)
class Provenance:
    """Where every input of a plan comes from, one :class:`Input` each, in the planner's
    order (docs/planning.md, "Provenance")."""

    inputs: tuple[Input, ...]

    def __str__(self) -> str:
        return "; ".join(str(i) for i in self.inputs)

    def get(self, name: str) -> Input | None:
        """The input called ``name`` (None when the plan has none)."""
        return next((i for i in self.inputs if i.name == name), None)

    def kinds(self) -> dict[str, Kind]:
        """Each input's kind, by name."""
        return {i.name: i.kind for i in self.inputs}


def provenance(*inputs: Input | Iterable[Input | None] | None) -> Provenance:
    """The provenance of these inputs (None left out, lists flattened, a name kept once)."""
    out: dict[str, Input] = {}
    for item in inputs:
        if item is None:
            continue
        for i in [item] if isinstance(item, Input) else item:
            if i is not None:
                out.setdefault(i.name, i)
    return Provenance(tuple(out.values()))


GIVEN = "given by the caller"


def _num(value: float) -> str:
    """A number as an input's value: ten significant digits (the constants as published)."""
    return f"{value:.10g}"


@dataclass(frozen=True)
class _Mark:
    """How the core marks what a fit made: its ``source`` starts with ``source``, and
    ``count`` finds the points in its ``description``."""

    source: str
    count: re.Pattern[str]

    def points(self, source: str, description: str) -> tuple[bool, int | None]:
        """Whether an entry is marked, and its points (None when the description lost them)."""
        if not source.startswith(self.source):
            return False, None
        m = self.count.search(description)
        return True, int(m.group(1)) if m else None


_MARKS = {
    # rust/core/src/laws/fit.rs (fit_law, both forms)
    "law": _Mark("scaleplan fit_law", re.compile(r"fitted to (\d+) runs")),
    # rust/core/src/calibrate.rs
    "hardware": _Mark("scaleplan calibrate", re.compile(r"calibrated from (\d+) serving runs")),
    # rust/core/src/laws/rag.rs (fit_rag)
    "rag": _Mark("fit_rag:", re.compile(r"refit of \S+ on (\d+) rows")),
}


def _fitted(mark: str, source: str, description: str) -> tuple[bool, int | None]:
    return _MARKS[mark].points(source, description)


@functools.cache
def _shipped() -> Catalog:
    """The catalog scaleplan ships, without user files: what ``published`` and ``assumed``
    entries are compared with."""
    return Catalog.shipped()


def _catalog_entry(lookup: Any, name: str) -> Any:
    try:
        return lookup(name)
    except (ScaleplanError, LookupError):
        return None


def law_input(law: LossLaw, fit: LawFit | None = None) -> Input:
    """The loss law: ``fitted`` (n runs; form chinchilla or muennighoff) when
    :func:`scaleplan.fit_law` made it, ``published`` with its citation when it is a catalog
    preset (any form: Chinchilla, Farseer, Muennighoff), else ``user``."""
    from scaleplan.laws import law as catalog_law

    fitted, n = _fitted("law", law.source, law.description)
    if fit is not None and fit.n_points > 0:
        fitted, n = True, fit.n_points
    if fitted:
        form = "muennighoff" if law.repetition is not None else law.form
        return Input("law", "fitted", law.name, f"scaleplan.fit_law, {form} form", n)
    preset = _catalog_entry(lambda name: catalog_law(name, _shipped()), law.name)
    if preset is not None and preset == law:
        form = "muennighoff" if law.repetition is not None else law.form
        return Input("law", "published", law.name, f"{form} form; {law.source}")
    return Input("law", "user", law.name, GIVEN)


def law_samples_input(fit: LawFit) -> Input:
    """The bootstrap samples a plan under uncertainty is re-solved with (docs/uncertainty.md):
    ``fitted``, n resamples of the fit's runs."""
    n = len(fit.samples)
    return Input(
        "law_samples",
        "fitted",
        f"{n} bootstrap resamples",
        "the law refitted on runs resampled with replacement (scaleplan.fit_law bootstrap)",
        n,
    )


def accuracy_samples_input(n: int) -> Input:
    """The bootstrap samples of an accuracy fit a test-time plan is re-solved with
    (docs/uncertainty.md): ``fitted``, n resamples of the eval's problems."""
    return Input(
        "accuracy_samples",
        "fitted",
        f"{n} bootstrap resamples",
        "each (model, length) refitted on problems resampled with replacement "
        "(scaleplan.fit_accuracy bootstrap)",
        n,
    )


def hardware_samples_input(n: int) -> Input:
    """The bootstrap samples of a calibration a test-time plan is re-solved on
    (docs/uncertainty.md): ``calibrated``, n resamples of the serving runs."""
    return Input(
        "hardware_samples",
        "calibrated",
        f"{n} bootstrap resamples",
        "the efficiencies refitted on serving runs resampled with replacement "
        "(scaleplan.calibrate bootstrap)",
        n,
    )


def progress_input(months: float, progress: Mapping[str, Any]) -> Input | None:
    """The algorithmic-progress halving time of a plan that starts later (None for one now):
    ``published`` with its citation."""
    if months == 0:
        return None
    return Input(
        "algorithmic_progress",
        "published",
        f"halving time {progress['halving_months']} months "
        f"(95% interval {progress['halving_months_fast']} to {progress['halving_months_slow']})",
        str(progress["source"]),
    )


def r_star_input(unique_tokens: float | None, r_star: float | None, law: LossLaw) -> Input | None:
    """The decay constant R*_D of repeated data, under a data limit (None without one): the
    caller's (``user``), the law's own (its ``repetition``: the law's input says where it comes
    from) or Muennighoff et al.'s ``published`` fit, the ``muennighoff2023`` preset's."""
    from scaleplan.laws import law as catalog_law

    if unique_tokens is None or (r_star is None and law.repetition is not None):
        return None
    if r_star is not None:
        return Input("r_star", "user", _num(r_star), GIVEN)
    published = catalog_law("muennighoff2023", _shipped())
    assert published.repetition is not None
    return Input("r_star", "published", _num(published.repetition.r_star_tokens), published.source)


EFFICIENCIES: dict[str, tuple[str, ...]] = {
    "serving": ("prefill_mfu", "decode_bw_util", "step_overhead_s"),
    "training": ("train_mfu",),
}
"""The efficiencies each use of the hardware rests on."""


def _efficiencies(hw: Hardware, uses: Sequence[str]) -> str:
    return ", ".join(f"{k} {getattr(hw, k):.3g}" for k in uses)


def hardware_kind(hw: Hardware) -> tuple[Kind, int | None]:
    """Where a hardware entry comes from: ``calibrated`` (with its runs), ``assumed`` (a
    shipped catalog entry) or ``user``."""
    calibrated, n = _fitted("hardware", hw.source, hw.description)
    if calibrated:
        return "calibrated", n
    entry = _catalog_entry(_shipped().hardware, hw.name)
    if entry is not None and entry == hw:
        return "assumed", None
    return "user", None


def hardware_input(
    hw: Hardware,
    uses: Sequence[str] = EFFICIENCIES["serving"],
    *,
    name: str = "hardware",
) -> Input:
    """A hardware entry: ``calibrated`` (n runs) from :func:`scaleplan.calibrate`, ``assumed``
    for a catalog entry (its efficiencies ``uses`` are catalog assumptions), else ``user``."""
    kind, n = hardware_kind(hw)
    values = _efficiencies(hw, uses)
    detail = {
        "calibrated": f"scaleplan.calibrate: {values}",
        "assumed": f"catalog efficiencies: {values}",
        "user": f"{GIVEN}: {values}",
    }[kind]
    return Input(name, kind, hw.name, detail, n)


def price_input(
    given: float | None,
    hw: Hardware | None,
    *,
    name: str = "usd_per_hour",
) -> Input | None:
    """The price of a GPU-hour: ``user`` when given; else the hardware's price, ``assumed``
    with its date and source when it is a catalog price (a calibrated entry keeps its base's),
    ``user`` when it is your hardware's own. None when there is none (no USD)."""
    if given is not None:
        return Input(name, "user", f"${_num(given)}/GPU-h", GIVEN)
    if hw is None or hw.usd_per_hour is None:
        return None
    kind, _ = hardware_kind(hw)
    value = f"${_num(hw.usd_per_hour)}/GPU-h"
    if kind == "user":
        return Input(name, "user", value, f"the usd_per_hour of your hardware {hw.name}")
    read = ", ".join(x for x in (hw.price_date, hw.price_source) if x)
    return Input(name, "assumed", value, f"{hw.name} catalog price" + (f", {read}" if read else ""))


def number_input(name: str, given: float | None, default: float | None, what: str) -> Input:
    """A number the planner takes: ``user`` when given (other than its default), else its
    ``assumed`` default, ``what`` saying what the default is."""
    if given is not None and given != default:
        return Input(name, "user", _num(given), GIVEN)
    shown = "none" if default is None else _num(default)
    return Input(name, "assumed", shown, what)


def models_input(
    models: Sequence[Model | str], catalog: Catalog | None = None, *, name: str = "models"
) -> Input:
    """Candidate models (names in ``catalog``, or :class:`Model` objects): ``published``
    architectures (the shipped catalog's, from each model's config.json) unless one is the
    caller's own (``user``: built, registered or read from a catalog file of yours)."""
    cat = catalog_or_default(catalog)
    names: list[str] = []
    own = False
    for m in models:
        names.append(m if isinstance(m, str) else m.name)
        entry = m if isinstance(m, Model) else _catalog_entry(cat.model, m)
        own = own or entry is None or _catalog_entry(_shipped().model, entry.name) != entry
    value = ", ".join(names)
    if own:
        return Input(name, "user", value, f"architectures {GIVEN}")
    return Input(name, "published", value, "catalog architectures, from each model's config.json")


def family_input(value: object, catalog: Catalog | None = None) -> Input:
    """A family, by its members: a catalog family's are ``published`` architectures; a list of
    models is as :func:`models_input` says, sorted by size as a family's members are (so a list
    of a family's own members says the same as the family's name)."""
    cat = catalog_or_default(catalog)
    if isinstance(value, str):
        members: list[Model | str] = list(cat.family(value).members)
    else:
        members = list(value)  # type: ignore[call-overload]

    def size(m: Model | str) -> float:
        return (cat.model(m) if isinstance(m, str) else m).flop_params

    return models_input(sorted(members, key=size), cat, name="family")


def tool_price_inputs(
    tools: Sequence[str], given: Mapping[str, float] | None, defaults: Mapping[str, float]
) -> list[Input]:
    """Each tool's price per call: ``user`` when given, else the paper's ``published``
    default (Liu et al. 2025)."""
    out = []
    for t in tools:
        if given and t in given:
            out.append(Input(f"price_{t}", "user", f"${_num(float(given[t]))}/call", GIVEN))
        else:
            out.append(
                Input(
                    f"price_{t}",
                    "published",
                    f"${_num(defaults[t])}/call",
                    "Liu et al. 2025, budget-aware tool use, arXiv:2511.17006",
                )
            )
    return out


def accuracy_input(accuracy: Accuracy) -> Input:
    """Test-time accuracy: a shipped preset is ``published`` with its citation (its length
    saturation constants are assumptions, as the citation says), a preset of your own catalog
    file ``user``; a fit from :func:`scaleplan.fit_accuracy` is ``fitted`` on its problems, with
    the samples per problem; measured eval counts are ``user``."""
    name = accuracy.preset_name
    if name is not None:
        entry = accuracy._catalog._native.accuracy_json(name)
        shipped = _catalog_entry(_shipped()._native.accuracy_json, name)
        if shipped is None or json.loads(shipped) != json.loads(entry):
            return Input("accuracy", "user", name, f"a preset {GIVEN} (a catalog file)")
        return Input("accuracy", "published", name, str(json.loads(entry).get("source", "")))
    if accuracy.fit is not None:
        fits = accuracy.fit.fits
        problems = max(f.problems for f in fits)
        per = sorted({f.eval_samples for f in fits})
        shown = str(per[0]) if len(per) == 1 else f"{per[0]} to {per[-1]}"
        return Input(
            "accuracy",
            "fitted",
            accuracy.fit.name,
            f"scaleplan.fit_accuracy: beta-binomial per (model, length), {shown} samples per "
            f"problem",
            problems,
        )
    return Input("accuracy", "user", accuracy.task, "measured eval counts")


def parscale_law_input(law: ParScaleLaw) -> Input:
    """A parallel-scaling law: ``published`` when it is a catalog preset, else ``user``."""
    from scaleplan.parscale import parscale_law

    preset = _catalog_entry(lambda name: parscale_law(name, _shipped()), law.name)
    if preset is not None and preset == law:
        return Input("law", "published", law.name, law.source)
    return Input("law", "user", law.name, GIVEN)


def rag_law_input(law: RagLaw) -> Input:
    """A RAG law: ``fitted`` (n rows) when :func:`scaleplan.fit_rag` made it, ``published``
    when it is a catalog preset, else ``user``."""
    from scaleplan.rag import rag_law

    fitted, n = _fitted("rag", law.source, law.description)
    if fitted:
        return Input("law", "fitted", law.name, "scaleplan.fit_rag (least squares)", n)
    preset = _catalog_entry(lambda name: rag_law(name, _shipped()), law.name)
    if preset is not None and preset == law:
        return Input("law", "published", law.name, law.source)
    return Input("law", "user", law.name, GIVEN)


__all__ = [
    "EFFICIENCIES",
    "KINDS",
    "Input",
    "Kind",
    "Provenance",
    "accuracy_input",
    "accuracy_samples_input",
    "family_input",
    "hardware_input",
    "hardware_kind",
    "hardware_samples_input",
    "law_input",
    "law_samples_input",
    "models_input",
    "number_input",
    "parscale_law_input",
    "price_input",
    "progress_input",
    "provenance",
    "r_star_input",
    "rag_law_input",
    "tool_price_inputs",
]
