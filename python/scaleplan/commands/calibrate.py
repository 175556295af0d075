"""``scaleplan calibrate BENCH.json --hardware h100-sxm``: fit a hardware entry's prefill MFU,
decode bandwidth utilisation and per-step overhead to measured serving runs
(docs/calibration.md), print the fit and its residuals, save the entry as a catalog file."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from scaleplan.calibrate import COLUMNS, PARAMETERS, Calibration, calibrate, read_runs
from scaleplan.commands import _common, _parse
from scaleplan.commands._output import json_line


def register(sub: _common.Subparsers) -> None:
    p = _common.add_command(
        sub,
        "calibrate",
        help="fit a hardware entry's prefill MFU, decode bandwidth utilisation and per-step "
        "overhead to measured serving runs",
        description="Fit prefill_mfu, decode_bw_util and step_overhead_s of a hardware entry so "
        "that the cost model reproduces measured time to first token (TTFT) and time per output "
        "token (TPOT), by least squares on relative errors (docs/calibration.md). Each FILE is "
        "the result JSON of vLLM's serving benchmark (vllm bench serve --save-result "
        "--max-concurrency B), a JSON list or JSON Lines of them or of runs, or a CSV with the "
        f"columns {', '.join(COLUMNS)} (ttft_ms/tpot_ms accepted; optional hardware, gpus). "
        "Runs need at least 3 different shapes (batch, prompt and generated lengths).",
        examples=[
            "scaleplan calibrate bench-c1.json bench-c8.json bench-c32.json --hardware h100-sxm",
            "scaleplan calibrate runs.csv --hardware h100-sxm --save h100-mine.toml",
            "scaleplan calibrate bench.json --hardware h100-sxm --model qwen3-8b --json",
            "scaleplan calibrate runs.csv --hardware h100-sxm --bootstrap 1000 --level 0.9",
        ],
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="benchmark results or runs")
    p.add_argument("--hardware", required=True, help="the catalog hardware the runs used")
    p.add_argument(
        "--model", help="catalog model of every run (when the files name none the catalog knows)"
    )
    p.add_argument("--name", help="name of the calibrated entry (default <hardware>-calibrated)")
    p.add_argument(
        "--bootstrap",
        default="0",
        metavar="N",
        help="refit on N resamples of the runs for percentile intervals (0 to 10,000; default "
        "%(default)s: standard errors only)",
    )
    p.add_argument(
        "--seed", default="0", metavar="SEED", help="seed of the resampling (default %(default)s)"
    )
    p.add_argument(
        "--level",
        default="0.95",
        metavar="LEVEL",
        help="level of the intervals with --bootstrap (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument(
        "--save", metavar="CATALOG.toml", help="write the entry as a catalog file (load_catalog)"
    )
    p.set_defaults(func=run)


@_common.guarded(
    {
        "rows": "FILE",
        "runs": "FILE",
        "name": "--name",
        "bootstrap": "--bootstrap",
        "seed": "--seed",
        "level": "--level",
    }
)
def run(args: argparse.Namespace) -> int:
    boots = _parse.whole("--bootstrap", args.bootstrap)
    seed = _parse.whole("--seed", args.seed)
    level = _parse.number("--level", args.level)
    if not 0.0 < level < 1.0:
        raise _parse.UsageError("--level", f"must be in (0, 1), got {args.level}")
    if boots == 0 and args.level != "0.95":
        raise _parse.UsageError("--level", "applies only with --bootstrap N")
    runs: list[dict[str, Any]] = []
    for path in args.files:
        runs.extend(read_runs(path))
    cal = calibrate(
        runs, args.hardware, model=args.model, name=args.name, bootstrap=boots, seed=seed
    )
    if args.save:
        with open(args.save, "w") as f:
            f.write(cal.hardware.to_toml())
        print(f"wrote {args.save}", file=sys.stderr)
    if args.json:
        out = cal.to_dict()
        if len(cal.samples):
            out["interval"] = {k: list(v) for k, v in cal.interval(level).items()}
            out["level"] = level
        print(json_line(out))
    else:
        print(summary(cal, level))
    return _common.EXIT_OK


def summary(cal: Calibration, level: float = 0.95) -> str:
    units = {"prefill_mfu": "", "decode_bw_util": "", "step_overhead_s": "s"}
    interval = cal.interval(level) if len(cal.samples) else None
    head = f"{'':16} {'estimate':>12} {'stderr':>12}"
    if interval is not None:
        head += f" {f'{100 * level:g}% interval':>25}"
    lines = [
        f"{cal.hardware.name}: calibrated on {cal.n_runs} serving runs "
        f"(RMS relative error {100 * cal.rms_relative_error:.1f}%)",
        head,
    ]
    for k in PARAMETERS:
        note = "  (at its bound)" if cal.at_bound[k] else ""
        band = ""
        if interval is not None:
            lo, hi = interval[k]
            band = f" {f'{lo:.4g} .. {hi:.4g}':>25}"
        line = f"{k:16} {cal.parameters[k]:12.4g} {cal.stderr[k]:12.2g}{band} {units[k]}{note}"
        lines.append(line.rstrip())
    if cal.bootstrap:
        lines.append(
            f"intervals: percentiles of {len(cal.samples)} bootstrap refits over resampled runs "
            f"(seed {cal.seed}; {cal.bootstrap_failed} of {cal.bootstrap} resamples had no fit)"
        )
    lines.append("")
    lines.append(
        f"{'run':<28} {'batch':>6} {'prompt':>7} {'gen':>6} {'TTFT ms':>9} {'fit':>9} "
        f"{'err':>7} {'TPOT ms':>9} {'fit':>9} {'err':>7}  prefill"
    )
    for i, r in enumerate(cal.runs):
        where = f"{os.path.basename(str(r['file']))}:{r['row']}" if "file" in r else f"#{i}"
        label = f"{r['model']} {where}"
        if len(label) > 28:  # keep the file's row (the end), mark the cut
            label = "…" + label[-27:]
        lines.append(
            f"{label:<28} {r['batch']:6.0f} {r['prompt_tokens']:7.0f} "
            f"{r['gen_tokens']:6.0f} {1e3 * r['ttft_s']:9.3f} "
            f"{1e3 * cal.predicted['ttft_s'][i]:9.3f} {100 * cal.residuals['ttft'][i]:+6.1f}% "
            f"{1e3 * r['tpot_s']:9.3f} {1e3 * cal.predicted['tpot_s'][i]:9.3f} "
            f"{100 * cal.residuals['tpot'][i]:+6.1f}%  "
            f"{'compute' if cal.prefill_compute_bound[i] else 'weights'}"
        )
    return "\n".join(lines)
