"""``scaleplan catalog``: the hardware, models, families, laws and accuracy presets the planners
know, with their values (what the Python API's dataclasses hold)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

from scaleplan import _format as fmt
from scaleplan.catalog import Family, Hardware, Model, Moe, default_catalog
from scaleplan.commands import _common
from scaleplan.commands._output import RowWriter, plain
from scaleplan.laws import ErrorLaw, Farseer, FittedRange, LossLaw, Repetition, law
from scaleplan.parscale import STREAMS, ParScaleLaw, parscale_law
from scaleplan.plan import ALGORITHMIC_PROGRESS
from scaleplan.rag import RagLaw, RagSigma, rag_law

KINDS = ("hardware", "models", "families", "laws", "accuracy", "rag", "parscale", "progress")
"""Listed when no kind is named: the catalog's kinds (``scaleplan.catalog()``, so that
``scaleplan catalog --json`` holds what the Python API lists) and the algorithmic-progress
table, which is not a catalog entry (rust/core/src/laws/progress.rs) but a law plans use."""
LAW_KINDS = ("laws", "parscale", "rag", "progress")
"""What ``scaleplan catalog laws`` lists: every law family, each with its source and domain
(loss laws of every form, parallel-scaling laws, RAG allocation models, algorithmic progress);
``--csv`` takes the loss laws alone (one kind per CSV)."""
_TITLES = {
    "parscale": "parallel-scaling laws, L = E + (A / (N (1 + k ln P)))^alpha",
    "rag": "RAG computation allocation models, sigma^-1(P) = (a + b * i)^T ln(theta + 0.01) + c",
    "progress": "algorithmic progress: the compute a fixed performance needs halves every T",
}
"""A line after a law family's kind in the table, saying what its law is."""

_CLASSES: dict[str, type] = {
    "hardware": Hardware,
    "models": Model,
    "families": Family,
    "laws": LossLaw,
    "rag": RagLaw,
    "parscale": ParScaleLaw,
}
_ACCURACY_FIELDS = [
    "name",
    "task",
    "reference_tokens",
    "half_tokens",
    "hill",
    "kappa",
    "pass1",
    "description",
    "source",
]
"""An accuracy preset's fields (rust/core/src/testtime/beta.rs); ``pass1`` maps each catalog
model to its published pass@1 at ``reference_tokens`` (in CSV: ``model=value`` pairs)."""
_PROGRESS_FIELDS = [
    "name",
    "halving_months",
    "halving_months_fast",
    "halving_months_slow",
    "max_start_in_months",
    "source",
]
"""The algorithmic-progress table's fields (rust/core/src/laws/progress.rs): the halving time
`plan training --start-in` uses, its 95% interval (docs/planning.md, "Training later") and its
domain, start offsets from 0 to ``max_start_in_months``."""
_NESTED: dict[str, type] = {
    "moe": Moe,
    "error": ErrorLaw,
    "fitted": FittedRange,
    "farseer": Farseer,
    "repetition": Repetition,
    "sigma": RagSigma,
}
"""Fields holding a dataclass (or None), flattened to ``moe_experts``, ... in CSV."""


def register(sub: _common.Subparsers) -> None:
    p = _common.add_command(
        sub,
        "catalog",
        help="list catalog entries with their values",
        description="Show the catalog: hardware (spec-sheet peaks, HBM, assumed efficiencies and "
        "a list price per GPU-hour with the date it was read: an assumption, the default of USD "
        "budgets), "
        "models (architecture from config.json, parameter counts), families, quality laws and "
        "accuracy presets (for `plan test-time --accuracy`), RAG laws (for `plan rag --law`), "
        "parallel-scaling laws (for `plan parscale --law`) and the algorithmic-progress halving "
        "time (for `plan training --start-in`). `catalog laws` lists every law family (loss "
        "laws, parscale, rag, progress) with its source and domain. "
        "Includes the files named in SCALEPLAN_CATALOG. --json prints one object keyed by kind, "
        "each a list of entries with the Python dataclasses' field names.",
        examples=[
            "scaleplan catalog",
            "scaleplan catalog models",
            "scaleplan catalog hardware --json",
            "scaleplan catalog laws --csv",
            "scaleplan catalog accuracy",
            "scaleplan catalog progress",
            "scaleplan catalog rag",
            "scaleplan catalog parscale --json",
        ],
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        help="one kind only (default: all; laws: every law family)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="one JSON object keyed by kind")
    group.add_argument("--csv", action="store_true", help="CSV of one kind (nested fields flat)")
    p.set_defaults(func=run)


def entries(kind: str) -> list[Any]:
    if kind == "progress":
        return [{f: ALGORITHMIC_PROGRESS[f] for f in _PROGRESS_FIELDS}]
    cat = default_catalog()
    names = cat.names()[kind]
    if kind == "accuracy":
        return [json.loads(cat._native.accuracy_json(n)) for n in names]
    lookup: dict[str, Callable[[str], Any]] = {
        "hardware": cat.hardware,
        "models": cat.model,
        "families": cat.family,
        "laws": lambda n: law(n, cat),
        "rag": lambda n: rag_law(n, cat),
        "parscale": lambda n: parscale_law(n, cat),
    }
    return [lookup[kind](n) for n in names]


def csv_fields(kind: str) -> list[str]:
    """Stable CSV columns: the dataclass fields, nested ones flattened."""
    if kind == "accuracy":
        return list(_ACCURACY_FIELDS)
    if kind == "progress":
        return list(_PROGRESS_FIELDS)
    out = []
    for f in dataclasses.fields(_CLASSES[kind]):
        if not f.init:
            continue
        if f.name in _NESTED:
            out += [f"{f.name}_{g.name}" for g in dataclasses.fields(_NESTED[f.name])]
        else:
            out.append(f.name)
    return out


def flat(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "pass1" in record:  # an accuracy preset
        record = {**record, "pass1": " ".join(f"{m}={v:g}" for m, v in record["pass1"].items())}
    for key, value in record.items():
        if key in _NESTED:
            for g in dataclasses.fields(_NESTED[key]):
                out[f"{key}_{g.name}"] = None if value is None else value[g.name]
        else:
            out[key] = value
    return out


@_common.guarded()
def run(args: argparse.Namespace) -> int:
    if args.kind is None:
        kinds = list(KINDS)
    else:
        kinds = list(LAW_KINDS) if args.kind == "laws" else [args.kind]
    if args.json:
        doc = {k: [plain(e) for e in entries(k)] for k in kinds}
        print(json.dumps(doc, indent=2, allow_nan=False))
        return _common.EXIT_OK
    if args.csv:
        if args.kind is None:
            return _common.fail("--csv: needs one kind: " + ", ".join(KINDS))
        writer = RowWriter(sys.stdout, "csv", csv_fields(args.kind))
        writer.write_rows(flat(plain(e)) for e in entries(args.kind))
        return _common.EXIT_OK
    blocks = []
    for k in kinds:
        header, rows, align = _TABLES[k](entries(k))
        title = f"{k}: {_TITLES[k]}" if k in _TITLES else f"{k}:"
        blocks.append(f"{title}\n" + fmt.table(header, rows, align=align))
    print("\n\n".join(blocks))
    return _common.EXIT_OK


def _opt(value: float | None, render: Callable[[float], str]) -> str:
    return "-" if value is None else render(value)


def _hardware_table(items: list[Hardware]) -> tuple[list[str], list[list[str]], str]:
    header = [
        "name",
        "bf16 peak",
        "fp8 peak",
        "HBM BW",
        "HBM",
        "train MFU",
        "prefill MFU",
        "decode BW util",
        "step overhead",
        "$/h",
        "price date",
        "description",
    ]
    rows = [
        [
            h.name,
            fmt.si(h.peak_flops_bf16, "FLOP/s"),
            _opt(h.peak_flops_fp8, lambda v: fmt.si(v, "FLOP/s")),
            fmt.si(h.hbm_bytes_per_s, "B/s"),
            fmt.si(h.hbm_bytes, "B"),
            f"{h.train_mfu:.2f}",
            f"{h.prefill_mfu:.2f}",
            f"{h.decode_bw_util:.2f}",
            fmt.seconds(h.step_overhead_s) if h.step_overhead_s else "0",
            _opt(h.usd_per_hour, lambda v: f"{v:.2f}"),
            h.price_date or "-",
            h.description,
        ]
        for h in items
    ]
    return header, rows, "l" + "r" * 10 + "l"


def _moe(m: Model) -> str:
    if m.moe is None:
        return "-"
    return f"{m.moe.active_experts}/{m.moe.experts} experts, {fmt.si(m.moe.active_params)} active"


def _window(m: Model) -> str:
    if m.sliding_window is None:
        return "-"
    layers = m.layers if m.sliding_layers is None else m.sliding_layers
    return f"{m.sliding_window} ({layers}/{m.layers} layers)"


def _model_table(items: list[Model]) -> tuple[list[str], list[list[str]], str]:
    header = [
        "name",
        "params",
        "FLOP params",
        "layers",
        "hidden",
        "heads",
        "KV heads",
        "head dim",
        "vocab",
        "context",
        "tied emb.",
        "sliding window",
        "MoE",
    ]
    rows = [
        [
            m.name,
            fmt.si(m.total_params),
            fmt.si(m.flop_params),
            str(m.layers),
            str(m.hidden_size),
            str(m.query_heads),
            str(m.kv_heads),
            str(m.head_dim),
            str(m.vocab_size),
            str(m.max_context),
            "yes" if m.tied_embeddings else "no",
            _window(m),
            _moe(m),
        ]
        for m in items
    ]
    return header, rows, "l" + "r" * 11 + "l"


def _family_table(items: list[Family]) -> tuple[list[str], list[list[str]], str]:
    rows = [[f.name, ", ".join(f.members), f.description] for f in items]
    return ["name", "members", "description"], rows, "lll"


def _law_table(items: list[LossLaw]) -> tuple[list[str], list[list[str]], str]:
    header = [
        "name",
        "form",
        "units",
        "coefficients",
        "domain (params planned)",
        "error law (eps, k, gamma)",
        "source",
    ]
    rows = [
        [
            x.name,
            x.form,
            x.units,
            _law_coefficients(x),
            _law_domain(x),
            "-" if x.error is None else f"{x.error.eps:.4g}, {x.error.k:.4g}, {x.error.gamma:.4g}",
            x.source,
        ]
        for x in items
    ]
    return header, rows, "lllllll"


def _law_coefficients(x: LossLaw) -> str:
    """The law's coefficients, named as its form names them."""
    if x.farseer is not None:
        values = dataclasses.asdict(x.farseer)
        return ", ".join(f"{name} {value:.4g}" for name, value in values.items())
    text = f"E {x.E:.6g}, A {x.A:.6g}, B {x.B:.6g}, alpha {x.alpha:.4g}, beta {x.beta:.4g}"
    if x.repetition is not None:
        r = x.repetition
        text += f", R*_D {r.r_star_tokens:.4g}, R*_N {r.r_star_params:.4g}"
    return text


def _law_domain(x: LossLaw) -> str:
    """Where the planners use the law (docs/planning.md, "Loss-law forms"): any size for the
    Chinchilla form (outside its fitted range flagged ``extrapolated``), only up to the largest
    validated model for a law without a loss floor."""
    fitted = x.fitted
    low = fitted.params_min if fitted is not None else None
    high = fitted.params_max if fitted is not None else None
    if x.farseer is not None and high is not None:
        return f"up to {fmt.si(high)} (its largest validated model; no loss floor)"
    if low is None and high is None:
        return "any (no fitted range)"
    span = f"{fmt.si(low) if low else '?'} to {fmt.si(high) if high else '?'}"
    return f"any (fitted {span}; beyond it flagged)"


def _parscale_table(items: list[ParScaleLaw]) -> tuple[list[str], list[list[str]], str]:
    """The parallel-scaling laws (ParScale; docs/planning.md, "Parallel streams"): their own
    form, L(N, P), with no token term; the domain is the streams and sizes fitted and the data
    (loss scale) they were fitted on."""
    header = ["name", "E", "A", "alpha", "k", "P", "params fitted", "domain", "source"]
    rows = [
        [
            x.name,
            f"{x.E:.6g}",
            f"{x.A:.6g}",
            f"{x.alpha:.4g}",
            f"{x.k:.4g}",
            ",".join(str(p) for p in STREAMS),
            f"{fmt.si(x.params_min)} to {fmt.si(x.params_max)}",
            x.domain,
            x.source,
        ]
        for x in items
    ]
    return header, rows, "lrrrrllll"


def _accuracy_table(items: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], str]:
    header = ["name", "task", "ref tokens", "half tokens", "hill", "kappa", "models (pass@1)"]
    rows = [
        [
            x["name"],
            x["task"] or x["name"],
            fmt.count(x["reference_tokens"]),
            fmt.count(x["half_tokens"]),
            f"{x['hill']:.4g}",
            f"{x['kappa']:.4g}",
            ", ".join(f"{m} {v:.1%}" for m, v in x["pass1"].items()),
        ]
        for x in items
    ]
    return header, rows, "llrrrrl"


def _progress_table(items: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], str]:
    header = ["name", "halving time", "95% interval", "domain", "source"]
    rows = [
        [
            x["name"],
            f"{x['halving_months']:g} months",
            f"{x['halving_months_fast']:g} to {x['halving_months_slow']:g} months",
            f"start in 0 to {x['max_start_in_months']:g} months",
            x["source"],
        ]
        for x in items
    ]
    return header, rows, "lrrll"


def _rag_table(items: list[RagLaw]) -> tuple[list[str], list[list[str]], str]:
    """RAG laws with their coefficients, the domain of their metric (sigma's open range) and
    their source."""
    header = ["name", "a (doc, shot, iter)", "b (doc, shot)", "c", "domain: metric in", "source"]
    rows = [
        [
            x.name,
            ", ".join(f"{v:.4g}" for v in x.a),
            ", ".join(f"{v:.4g}" for v in x.b),
            f"{x.c:.4g}",
            f"({x.sigma.offset:.4g}, {x.sigma.offset + x.sigma.scale:.4g})",
            x.source,
        ]
        for x in items
    ]
    return header, rows, "lllrll"


_TABLES: dict[str, Callable[[Any], tuple[list[str], list[list[str]], str]]] = {
    "hardware": _hardware_table,
    "models": _model_table,
    "families": _family_table,
    "laws": _law_table,
    "accuracy": _accuracy_table,
    "progress": _progress_table,
    "rag": _rag_table,
    "parscale": _parscale_table,
}
