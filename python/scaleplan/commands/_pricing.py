"""Pricing grids of queries through :func:`scaleplan.inference_cost`, shared by ``cost``,
``sweep`` and ``plot``: the options a grid varies, the row fields, and the cartesian product
(evaluated by numpy broadcasting; ``sweep`` cuts it into chunks with
:func:`scaleplan.sweep.iter_inference_cost_sweep`)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaleplan import _arrow
from scaleplan._arrays import FloatArray
from scaleplan.commands import _parse
from scaleplan.cost import InferenceCost, inference_cost
from scaleplan.errors import InvalidArgumentError
from scaleplan.serving import (
    DEFAULT_BATCH,
    DTYPES,
    PREFILL_MODES,
    TIME_MODELS,
    Attention,
    Serving,
    attention,
)

AXES = ("prompt_tokens", "gen_tokens", "samples", "batch")
"""Numeric options of inference_cost that broadcast: a grid's numeric axes, in row order."""

SETTING_FIELDS = (
    "model",
    "hardware",
    "gpus",
    "streams",
    "attention",
    "prefill",
    "prefill_mode",
    "prefix_sharing",
    "time_model",
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
)
INPUT_FIELDS = (
    "model",
    "hardware",
    "gpus",
    "streams",
    "attention",
    "prompt_tokens",
    "gen_tokens",
    "samples",
    "kv_budget",
    "block_size",
    "requested_batch",
    "prefill",
    "prefill_mode",
    "prefix_sharing",
    "time_model",
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
)
"""The inputs of one row; ``attention`` is its spelling (``topk:1024``) and ``kv_budget`` and
``block_size`` its numbers; ``requested_batch`` is the ``batch`` argument ("unset", "max" or a
number) since the result's own ``batch`` is the batch used (capped by memory); ``streams`` the
parallel streams per sequence (ParScale, 1 unless asked)."""
COST_FIELDS = tuple(f.name for f in dataclasses.fields(InferenceCost))
ROW_FIELDS = INPUT_FIELDS + COST_FIELDS
ROW_KINDS = {
    **_arrow.kinds_of(
        INPUT_FIELDS,
        text=(
            *(
                f
                for f in SETTING_FIELDS
                if f not in ("gpus", "streams", "prefill", "prefix_sharing")
            ),
            "requested_batch",
        ),
        flags=("prefill", "prefix_sharing"),
    ),
    **_arrow.cost_kinds(),
}
"""Each row field's Arrow kind (text, flag or number), for Parquet."""

TIME_MODEL_HELP = (
    "how a step's compute and memory time combine: additive (FLOPs / peak + bytes / bandwidth, "
    "the Kinetics convention; default) or roofline (the larger of the two)"
)
DTYPE_HELP = {
    "weight": "storage type of the weights, which sets the bytes read per step (default: bf16)",
    "kv": "storage type of the KV cache, which sets its bytes and size (default: bf16)",
    "compute": "arithmetic precision, which picks the hardware's peak FLOP/s; where a plan prices "
    "training in GPU-hours or USD, training runs at it too (default: bf16)",
}
"""Help of --weight-dtype, --kv-dtype and --compute-dtype."""


def add_precision_options(parser: argparse.ArgumentParser) -> None:
    """``--time-model`` and the dtype options, with their help."""
    parser.add_argument(
        "--time-model", choices=TIME_MODELS, default="additive", help=TIME_MODEL_HELP
    )
    for which, text in DTYPE_HELP.items():
        parser.add_argument(f"--{which}-dtype", choices=DTYPES, default="bf16", help=text)


@dataclass(frozen=True)
class Setting:
    """The options of inference_cost that do not broadcast: one façade call each. A fixed
    batch's sizes are on the ``batch`` axis (``serving.batch`` is a number then)."""

    model: str
    hardware: str
    attention: Attention
    serving: Serving
    streams: int = 1
    """Parallel streams per sequence (ParScale; docs/cost-model.md, "Parallel streams")."""


def applicable_axes(setting: Setting, axes: Mapping[str, FloatArray | None]) -> dict[str, Any]:
    """The axes that apply to ``setting``: batch sizes only for a fixed batch."""
    keep = dict(axes)
    if setting.serving.batch_mode != "fixed":
        keep["batch"] = None
    return {k: v for k, v in keep.items() if v is not None}


def grid_size(axes: Mapping[str, FloatArray]) -> int:
    size = 1
    for a in axes.values():
        size *= len(a)
    return size


def arguments(setting: Setting, axes: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of inference_cost (and of scaleplan.sweep's sweeps) for ``axes``
    under ``setting``: the numeric axes, the attention and the Serving, whose batch is the
    ``batch`` axis where one is given (a fixed batch's sizes)."""
    out: dict[str, Any] = {k: v for k, v in axes.items() if k != "batch"}
    serving = setting.serving
    if serving.batch_mode == "fixed" and axes.get("batch") is not None:
        serving = dataclasses.replace(serving, batch=np.asarray(axes["batch"], dtype=np.float64))
    return {**out, "attention": setting.attention, "serving": serving, "streams": setting.streams}


def price(setting: Setting, axes: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Price every point of ``axes`` (arrays that broadcast together) in ONE inference_cost
    call; returns flat row columns (inputs and results) and the number of rows."""
    cost = inference_cost(setting.model, setting.hardware, **arguments(setting, axes))
    return rows(setting, axes, cost)


def rows(
    setting: Setting, axes: Mapping[str, Any], cost: InferenceCost
) -> tuple[dict[str, Any], int]:
    """The flat row columns (inputs and results) of ``cost``, priced at ``axes`` (arrays that
    broadcast together) under ``setting``, and the number of rows."""
    shape = np.shape(cost.flops)
    n = int(np.prod(shape, dtype=np.int64))
    s = setting.serving
    columns: dict[str, Any] = {
        "model": setting.model,
        "hardware": setting.hardware,
        "gpus": s.gpus,
        "streams": setting.streams,
        "attention": str(setting.attention),
        "prefill": s.prefill is not False,
        "prefill_mode": s.prefill_mode or "per_query",
        "prefix_sharing": s.prefix_sharing,
        "time_model": s.time_model,
        "weight_dtype": s.weight_dtype,
        "kv_dtype": s.kv_dtype,
        "compute_dtype": s.compute_dtype,
        "kv_budget": setting.attention.kv_budget,
        "block_size": setting.attention.block_size,
    }
    for name in ("prompt_tokens", "gen_tokens", "samples"):
        value = axes.get(name, 1 if name == "samples" else None)
        columns[name] = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).reshape(-1)
    if s.batch_mode == "fixed":
        batch = axes.get("batch", s.batch)
        columns["requested_batch"] = np.broadcast_to(
            np.asarray(batch, dtype=np.float64), shape
        ).reshape(-1)
    else:
        columns["requested_batch"] = s.batch
    for name in COST_FIELDS:
        columns[name] = np.asarray(getattr(cost, name)).reshape(-1)
    return columns, n


STREAMS_HELP = (
    "parallel streams per sequence (ParScale, arXiv:2505.10475): P times the FLOPs and KV cache "
    "of one stream, 48 prefix tokens and +0.2%% parameters per stream, weights read once per "
    "step for all streams; 1 to 64 (default: 1, no streams)"
)


def streams(text: str) -> list[int]:
    """``--streams``: stream counts (a comma list), each a whole number; the core checks the
    range and names the option."""
    return list(
        dict.fromkeys(_parse.whole("--streams", s) for s in _parse.names("--streams", text))
    )


def open_mesh(axes: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """The axes reshaped to broadcast against each other (``np.ix_``): their cartesian product
    in C order, first axis slowest, without materialising it."""
    names = list(axes)
    return dict(zip(names, np.ix_(*(axes[n] for n in names)), strict=True))


# ---- serving options, the same in every command that prices inference ------------------------

ATTENTION_HELP = (
    "attention over the KV cache: dense, topk:S (top-k over S KV tokens) or block_topk:S:BLOCK "
    "(block top-k, blocks of BLOCK tokens)"
)
BATCH_HELP = (
    "sequences decoded together on one replica: a number (capped by memory), 'max' (the largest "
    "batch whose KV cache fits beside the weights) or 'unset' (weight reads fully amortised, the "
    f"Kinetics convention). Default: {DEFAULT_BATCH}, what a server under load runs; 'unset' "
    "assumes a batch no memory holds and understates memory-bound decode"
)
GPUS_AUTO_HELP = (
    "GPUs serving one replica (tensor parallel): a number, or 'auto' to choose among 1, 2, 4 "
    "and 8, each priced with its all-reduces (default: auto)"
)


def add_serving_options(
    p: argparse.ArgumentParser,
    *,
    attention_help: str = "(default: dense)",
    batch_lists: bool = False,
    gpus: str = "one",
) -> None:
    """The serving options (``--attention``, ``--batch``, ``--gpus``, prefill, time model,
    dtypes) of every command that prices inference, read back by :func:`serving`.
    ``batch_lists``: ``--batch`` takes a list or range of sizes; ``gpus``: "one" (a number),
    "lists" (comma lists) or "auto" (a number or auto, default auto)."""
    p.add_argument(
        "--attention",
        action="append",
        metavar="SPEC",
        help=f"{ATTENTION_HELP}; {attention_help}",
    )
    many = "; a list or range of sizes gives one row each" if batch_lists else ""
    p.add_argument("--batch", metavar="N|max|unset", help=BATCH_HELP + many)
    if gpus == "auto":
        p.add_argument("--gpus", default="auto", metavar="N|auto", help=GPUS_AUTO_HELP)
    else:
        p.add_argument(
            "--gpus",
            default="1",
            metavar="N[,N]" if gpus == "lists" else "N",
            help="GPUs serving one replica (tensor parallel; default: 1)",
        )
    p.add_argument(
        "--no-prefill", dest="prefill", action="store_false", help="leave prefill out (Kinetics)"
    )
    p.add_argument(
        "--prefill-mode",
        choices=PREFILL_MODES,
        default="per_query",
        help="per_query: each query's prompt is prefilled in its own pass (default); batch: a "
        "static batch's prompts in one pass that every query waits for (needs a batch other "
        "than unset)",
    )
    p.add_argument(
        "--no-prefix-sharing",
        dest="prefix_sharing",
        action="store_false",
        help="each sample reads the prompt's KV cache itself",
    )
    add_precision_options(p)


def attentions(specs: Sequence[str] | None) -> list[Attention]:
    """``--attention`` (repeated, or comma lists) as attentions, without repeats; dense when
    not given."""
    out: list[Attention] = []
    for text in specs or ["dense"]:
        for item in text.split(","):
            try:
                out.append(attention(item))
            except InvalidArgumentError:
                raise _parse.UsageError(
                    "--attention",
                    f"{item.strip()!r}: expected dense, topk:S or block_topk:S:BLOCK (S: KV tokens "
                    "attended, BLOCK: tokens per block), e.g. topk:1024",
                ) from None
    if not out:
        raise _parse.UsageError("--attention", "no attention given")
    return list(dict.fromkeys(out))


def one_attention(specs: Sequence[str] | None) -> Attention:
    """``--attention`` where a command takes one."""
    found = attentions(specs)
    if len(found) != 1:
        raise _parse.UsageError("--attention", "takes one attention here")
    return found[0]


def batches(text: str | None) -> str | FloatArray:
    """``--batch``: "unset", "max" or sequence counts (a list or range); the default when not
    given."""
    if text is None:
        return DEFAULT_BATCH
    word = text.strip().lower()
    if word in ("unset", "max"):
        return word
    if "max" in word or "unset" in word:
        raise _parse.UsageError(
            "--batch", f"'max' and 'unset' cannot be mixed with sizes: {text!r}"
        )
    return _parse.values("--batch", text, integer=True)


def serving(args: argparse.Namespace, *, batch: Any = None, gpus: Any = None) -> Serving:
    """The :class:`scaleplan.Serving` the serving options give: the one translation from the
    command line. ``batch`` and ``gpus`` override the options (a command that takes lists
    passes one value at a time)."""
    if batch is None:
        batch = batches(args.batch)
        if not isinstance(batch, str):
            if len(batch) != 1:
                raise _parse.UsageError("--batch", "takes one value here")
            batch = float(batch[0])
    if gpus is None:
        text = str(args.gpus).strip().lower()
        gpus = "auto" if text == "auto" else _parse.whole("--gpus", text)
    return Serving(
        batch=batch,
        prefix_sharing=args.prefix_sharing,
        prefill=args.prefill_mode if args.prefill else False,
        time_model=args.time_model,
        weight_dtype=args.weight_dtype,
        kv_dtype=args.kv_dtype,
        compute_dtype=args.compute_dtype,
        gpus=gpus,
    )


def numeric_axes(args: argparse.Namespace) -> dict[str, FloatArray]:
    """The numeric axes given on the command line (lists and ranges parsed), batch sizes
    included when ``--batch`` gives sizes."""
    axes: dict[str, FloatArray] = {}
    for name in ("prompt_tokens", "gen_tokens", "samples"):
        text = getattr(args, name, None)
        if text is not None:
            axes[name] = _parse.values(f"--{name.replace('_', '-')}", text, integer=True)
    batch = batches(args.batch)
    if not isinstance(batch, str):
        axes["batch"] = batch
    return axes
