"""The ``scaleplan`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scaleplan import _format as fmt
from scaleplan.catalog import default_catalog
from scaleplan.commands import _common, describe, register_all
from scaleplan.cost import inference_cost
from scaleplan.errors import ScaleplanError
from scaleplan.grpc.server.cli import add_serve_command
from scaleplan.serving import Serving

REFERENCE_PROMPT_TOKENS = 512
REFERENCE_GEN_TOKENS = 8192
DEFAULT_HARDWARE = "h100-sxm"


@_common.guarded()  # one-line errors; `| head` ends quietly
def _reference(args: argparse.Namespace) -> int:
    """Price one reference query for every catalog model on one hardware entry."""
    catalog = default_catalog()
    rows = []
    models = sorted(catalog.names()["models"], key=lambda n: catalog.model(n).total_params)
    for name in models:
        fit = inference_cost(
            name,
            args.hardware,
            prompt_tokens=REFERENCE_PROMPT_TOKENS,
            gen_tokens=REFERENCE_GEN_TOKENS,
            catalog=catalog,
        )
        gpus = int(fit.min_gpus)
        c = inference_cost(
            name,
            args.hardware,
            prompt_tokens=REFERENCE_PROMPT_TOKENS,
            gen_tokens=REFERENCE_GEN_TOKENS,
            serving=Serving(batch="max", gpus=gpus),
            catalog=catalog,
        )
        rows.append(
            [
                name,
                fmt.si(catalog.model(name).flop_params),
                str(gpus),
                fmt.si(float(c.flops)),
                fmt.si(float(c.kv_bytes), "B"),
                fmt.si(float(c.eflops)),
                fmt.seconds(float(c.gpu_seconds)),
                fmt.seconds(float(c.latency_s)),
                f"{float(c.max_batch):.0f}",
                "yes" if c.feasible else f"no ({c.binding})",
            ]
        )
    print(
        f"One query on {args.hardware}: {REFERENCE_PROMPT_TOKENS} prompt tokens, "
        f"{REFERENCE_GEN_TOKENS} generated, 1 sample, dense attention, largest batch that "
        "fits on the fewest GPUs that hold the model (bf16 weights and KV cache)."
    )
    header = [
        "model",
        "FLOP params",
        "GPUs",
        "FLOPs",
        "KV read",
        "eFLOPs",
        "GPU time",
        "latency",
        "max batch",
        "fits",
    ]
    print(fmt.table(header, rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scaleplan",
        description="Compute-budget planner for language models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ref = sub.add_parser(
        "reference",
        help="cost of one reference query for every catalog model",
        epilog="example: scaleplan reference --hardware h200",
    )
    ref.add_argument(
        "--hardware", default=DEFAULT_HARDWARE, help="catalog hardware (default: %(default)s)"
    )
    ref.set_defaults(func=_reference)
    register_all(sub)  # catalog, cost, plan, sweep, plot (scaleplan.commands)
    add_serve_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ScaleplanError as exc:
        print(f"scaleplan: error: {describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C stops even a long core call within ~0.1 s (docs/limits.md, "Cancellation");
        # the conventional status of a command stopped by SIGINT, without a traceback.
        print("scaleplan: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
