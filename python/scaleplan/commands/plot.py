"""``scaleplan plot <figure>``: figures that are not a by-product of one plan. Figures register
through :data:`PLOTS` (the test-time ones live in :mod:`.testtime`)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import numpy as np

from scaleplan import _format as fmt
from scaleplan.catalog import family, model
from scaleplan.commands import _common, _parse, _plot, _pricing, testtime


def register(sub: _common.Subparsers) -> None:
    p = sub.add_parser(
        "plot",
        help="draw a figure (PNG or SVG)",
        description="Draw a figure to --out FILE.png or FILE.svg.",
        epilog="examples:\n  scaleplan plot iso-cost --out iso.png\n"
        "  scaleplan plot accuracy --budgets 1e13eflops:1e19eflops:120 --no-prefill "
        "--out accuracy.png\n\n"
        "figures: " + ", ".join(name for name, _ in PLOTS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    figures = p.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    for _, add in PLOTS:
        add(figures)


def add_iso_cost(figures: _common.Subparsers) -> None:
    p = _common.add_command(
        figures,
        "iso-cost",
        help="iso-cost contours over (model size, generation length): FLOPs beside eFLOPs",
        description="Iso-cost contours of one query over model size (the family's members, "
        "log axis) and generation length (log axis), priced in FLOPs (left) and in eFLOPs = "
        "FLOPs + I x bytes (right), as in the Kinetics paper: memory traffic makes long "
        "generations dearer than the FLOPs say, so larger models with shorter generations "
        "cost less than they seem. One inference_cost call per model. Defaults follow the "
        "Kinetics setting except prefill (add --no-prefill to leave it out as they do).",
        examples=[
            "scaleplan plot iso-cost --out iso.png",
            "scaleplan plot iso-cost --family qwen3-dense --hardware h100-sxm --samples 8 "
            "--gen-tokens 512:32768:60 --no-prefill --out iso.svg",
        ],
    )
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.png or FILE.svg")
    p.add_argument("--family", default="qwen3-dense", help="models (default: %(default)s)")
    p.add_argument("--hardware", default="kinetics-b200", help="(default: %(default)s)")
    p.add_argument("--prompt-tokens", default="128", metavar="TOKENS", help="(default: 128)")
    p.add_argument(
        "--gen-tokens",
        default="256:32768:64",
        metavar="RANGE",
        help="generation lengths, the y axis (default: %(default)s)",
    )
    p.add_argument("--samples", default="1", metavar="K", help="(default: 1)")
    _pricing.add_serving_options(p)
    p.set_defaults(func=run_iso_cost)


@_common.guarded()
def run_iso_cost(args: argparse.Namespace) -> int:
    _plot.check_path("--out", args.out)
    members = list(family(args.family).members)
    params = np.array([model(m).flop_params for m in members])
    gen = np.unique(_parse.values("--gen-tokens", args.gen_tokens, integer=True))
    if len(gen) < 2 or len(members) < 2:
        raise _parse.UsageError(
            "--gen-tokens" if len(gen) < 2 else "--family",
            "an iso-cost plot needs at least two generation lengths and two models",
        )
    serving = _pricing.serving(args)
    attention = _pricing.one_attention(args.attention)
    axes = {
        "prompt_tokens": np.array([_parse.number("--prompt-tokens", args.prompt_tokens)]),
        "gen_tokens": gen,
        "samples": np.array([_parse.number("--samples", args.samples)]),
    }
    flops = np.empty((len(gen), len(members)))
    eflops = np.empty_like(flops)
    feasible = np.empty(flops.shape, dtype=bool)
    for j, name in enumerate(members):
        setting = _pricing.Setting(name, args.hardware, attention, serving)
        columns, _ = _pricing.price(setting, axes)
        flops[:, j], eflops[:, j] = columns["flops"], columns["eflops"]
        feasible[:, j] = columns["feasible"]
    if not feasible.all():
        print(
            f"scaleplan: note: {int((~feasible).sum())} of {feasible.size} grid points do not "
            "fit (memory or context) and are left blank; try --gpus",
            file=sys.stderr,
        )
    flops[~feasible] = math.nan
    eflops[~feasible] = math.nan
    setting_text = (
        f"{args.hardware}, {args.prompt_tokens} prompt tokens, samples {args.samples}, "
        f"{attention} attention, {serving}"
    )
    draw_iso_cost(args.out, members, params, gen, flops, eflops, setting_text)
    print(f"wrote {args.out}", file=sys.stderr)
    return _common.EXIT_OK


def draw_iso_cost(
    path: str,
    members: list[str],
    params: np.ndarray,
    gen: np.ndarray,
    flops: np.ndarray,
    eflops: np.ndarray,
    setting: str,
) -> None:
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FixedLocator, NullLocator

    fig = _plot.figure(12, 5.0)
    axes = fig.subplots(1, 2, sharey=True)
    finite = np.concatenate([flops[np.isfinite(flops)], eflops[np.isfinite(eflops)]])
    lo, hi = math.floor(math.log10(finite.min())), math.ceil(math.log10(finite.max()))
    fill_levels = np.logspace(lo, hi, 4 * (hi - lo) + 1)
    line_levels = np.logspace(lo, hi, hi - lo + 1)
    norm = LogNorm(10.0**lo, 10.0**hi)
    x, y = np.meshgrid(params, gen)
    prefix = _plot.common_prefix(members)
    for ax, z, title, unit in (
        (axes[0], flops, "priced in FLOPs", "FLOPs"),
        (axes[1], eflops, "priced in eFLOPs = FLOPs + I x bytes read", "eFLOPs"),
    ):
        filled = ax.contourf(x, y, z, levels=fill_levels, norm=norm, cmap="viridis")
        lines = ax.contour(x, y, z, levels=line_levels, colors="white", linewidths=1.0)
        ax.clabel(lines, fmt=lambda v, u=unit: f"{fmt.si(float(v))} {u}", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(list(params)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([m[len(prefix) :] for m in members], fontsize=8)
        ax.set_xlabel(f"model ({prefix.rstrip('-')} family, by FLOP params)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", color="white", alpha=0.25)
    axes[0].set_ylabel("generated tokens per sample")
    bar = fig.colorbar(filled, ax=list(axes), shrink=0.9)
    bar.set_label("cost of one query (FLOPs, eFLOPs)")
    fig.suptitle(f"Iso-cost contours, one query: {setting}", fontsize=10)
    _plot.save(fig, path)


PLOTS: list[tuple[str, Callable[[_common.Subparsers], None]]] = [
    ("iso-cost", add_iso_cost),
    ("test-time-frontier", testtime.add_frontier_plot),
    ("accuracy", testtime.add_accuracy_plot),
]
"""(name, register) per figure."""
