"""Calibrating a hardware entry from measured serving runs (docs/calibration.md):
:func:`calibrate`, :class:`Calibration` and :func:`read_runs`.

The fit itself is in the core (rust/core/src/calibrate.rs); this module reads runs (rows,
CSV, JSON, the result JSON of vLLM's serving benchmark), resolves their model names in the
catalog and builds the result."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import cancel as _cancel
from scaleplan._schema import documented
from scaleplan.catalog import Catalog, Hardware, Model, catalog_or_default
from scaleplan.errors import (
    InvalidArgumentError,
    LimitExceededError,
    ScaleplanError,
    UnknownNameError,
)

PARAMETERS = ("prefill_mfu", "decode_bw_util", "step_overhead_s")
"""The fitted parameters, in the order of every vector of a calibration."""
MAX_RUNS = _core.CALIBRATE_MAX_RUNS
MAX_BOOTSTRAP: int = _core.CALIBRATE_MAX_BOOTSTRAP
"""Most bootstrap resamples of one calibration."""
COLUMNS = ("model", "batch", "prompt_tokens", "gen_tokens", "ttft_s", "tpot_s")
"""Columns every run has (``ttft_ms``/``tpot_ms`` may stand for ``ttft_s``/``tpot_s``);
optional: ``hardware`` (checked against the hardware calibrated) and ``gpus`` (default 1)."""
_NUMBERS = ("batch", "prompt_tokens", "gen_tokens", "gpus", "ttft_s", "tpot_s")


@documented
@dataclass(frozen=True, eq=False)
class Calibration:
    """A hardware entry calibrated on measured serving runs; ``hardware`` prices and plans
    wherever a :class:`Hardware` is accepted."""

    hardware: Hardware
    parameters: dict[str, float]
    stderr: dict[str, float]
    at_bound: dict[str, bool]
    residuals: dict[str, npt.NDArray[np.float64]]
    predicted: dict[str, npt.NDArray[np.float64]]
    prefill_compute_bound: tuple[bool, ...]
    n_runs: int
    rms_relative_error: float
    runs: tuple[dict[str, Any], ...]
    samples: npt.NDArray[np.float64] = dataclasses.field(
        default_factory=lambda: np.empty((0, len(PARAMETERS)))
    )
    bootstrap: int = 0
    seed: int = 0
    bootstrap_failed: int = 0

    def interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile bootstrap intervals of the parameters at ``level``, by name (needs
        ``bootstrap`` > 0; docs/calibration.md, "Intervals")."""
        if isinstance(level, bool) or not isinstance(level, int | float):
            raise InvalidArgumentError(f"level: expected a number, got {level!r}", field="level")
        if not 0.0 < level < 1.0:
            raise InvalidArgumentError(f"level: must be in (0, 1), got {level}", field="level")
        if len(self.samples) == 0:
            raise InvalidArgumentError(
                "bootstrap: intervals are percentile intervals of bootstrap resamples; "
                "calibrate with bootstrap > 0"
                + (" (every resample failed)" if self.bootstrap else ""),
                field="bootstrap",
            )
        q = np.quantile(self.samples, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
        return {k: (float(q[0, j]), float(q[1, j])) for j, k in enumerate(PARAMETERS)}

    def sample_hardware(self) -> list[Hardware]:
        """The calibrated hardware under each bootstrap resample: the entry with that
        resample's (prefill_mfu, decode_bw_util, step_overhead_s)."""
        return [
            self.hardware.replace(**dict(zip(PARAMETERS, (float(v) for v in row), strict=True)))
            for row in self.samples
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the hardware as its catalog fields)."""
        hw = {k: v for k, v in vars(self.hardware).items() if not k.startswith("_")}
        return {
            "hardware": hw,
            "parameters": dict(self.parameters),
            "stderr": dict(self.stderr),
            "at_bound": dict(self.at_bound),
            "residuals": {k: v.tolist() for k, v in self.residuals.items()},
            "predicted": {k: v.tolist() for k, v in self.predicted.items()},
            "prefill_compute_bound": list(self.prefill_compute_bound),
            "n_runs": self.n_runs,
            "rms_relative_error": self.rms_relative_error,
            "runs": [dict(r) for r in self.runs],
            "samples": self.samples.tolist(),
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "bootstrap_failed": self.bootstrap_failed,
        }


def _number(value: Any, field: str, where: dict[str, Any]) -> float:
    if isinstance(value, bool):
        value = None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"{field}: expected a number, got {value!r}", field=field, **where
        ) from None


def _from_vllm(result: Mapping[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    """One run from the result JSON of vLLM's serving benchmark (``vllm bench serve
    --save-result``): means over the completed requests."""
    completed = _number(result.get("completed"), "completed", where)
    if not completed >= 1:
        raise InvalidArgumentError(
            f"completed: the benchmark completed {result.get('completed')!r} requests; "
            "nothing to calibrate on",
            field="completed",
            **where,
        )
    concurrency = result.get("max_concurrency")
    if concurrency is None:
        raise InvalidArgumentError(
            "max_concurrency: the benchmark ran without --max-concurrency, so the batch it "
            "served is unknown; rerun with --max-concurrency (docs/calibration.md)",
            field="max_concurrency",
            **where,
        )
    # Mean lengths: from the per-request lists when saved, else the totals over completed.
    lens = {}
    for key, total, name in (
        ("input_lens", "total_input_tokens", "prompt_tokens"),
        ("output_lens", "total_output_tokens", "gen_tokens"),
    ):
        values = result.get(key)
        if isinstance(values, list) and values:
            lens[name] = float(np.mean([_number(v, key, where) for v in values]))
        else:
            lens[name] = _number(result.get(total), total, where) / completed
    for key in ("mean_ttft_ms", "mean_tpot_ms"):
        if key not in result:
            raise InvalidArgumentError(
                f"{key}: missing from the benchmark result", field=key, **where
            )
    run = {
        "model": result.get("model_id"),
        "batch": _number(concurrency, "max_concurrency", where),
        "prompt_tokens": lens["prompt_tokens"],
        "gen_tokens": lens["gen_tokens"],
        "gpus": _number(result.get("tensor_parallel_size", 1), "tensor_parallel_size", where),
        "ttft_s": _number(result["mean_ttft_ms"], "mean_ttft_ms", where) / 1e3,
        "tpot_s": _number(result["mean_tpot_ms"], "mean_tpot_ms", where) / 1e3,
    }
    return run


def _normalise(row: Mapping[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    """A run in the canonical columns, from a plain row or a vLLM benchmark result."""
    if not isinstance(row, Mapping):
        raise InvalidArgumentError(
            f"rows: expected a mapping per run, got {type(row).__name__}", field="rows", **where
        )
    if "mean_ttft_ms" in row:
        run = _from_vllm(row, where)
    else:
        run = {k: row[k] for k in row if k in (*COLUMNS, "hardware", "gpus")}
        for unit in ("ttft", "tpot"):
            if f"{unit}_s" not in run and f"{unit}_ms" in row:
                run[f"{unit}_s"] = _number(row[f"{unit}_ms"], f"{unit}_ms", where) / 1e3
        missing = [c for c in COLUMNS if c not in run or run[c] in (None, "")]
        missing = [c for c in missing if c != "model"]
        if missing:
            raise InvalidArgumentError(
                f"{missing[0]}: missing from the run (a run has {', '.join(COLUMNS)})",
                field=missing[0],
                **where,
            )
        if run.get("gpus") in (None, ""):
            run["gpus"] = 1.0
    for c in _NUMBERS:
        run[c] = _number(run[c], c, where)
    return {**run, **{k: where[k] for k in ("file", "row") if where.get(k) is not None}}


def read_runs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The runs of one file: a CSV with a header (:data:`COLUMNS`), a JSON object (a run or a
    vLLM benchmark result), a JSON list of them, or JSON Lines (``--append-result``). Each run
    records its ``file`` and ``row`` (1-based), which errors name."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text()
    except OSError as exc:
        raise InvalidArgumentError(
            f"rows: cannot read {name}: {exc.strerror}", field="rows", file=name
        ) from exc
    if name.lower().endswith(".csv"):
        rows: list[Any] = list(csv.DictReader(text.splitlines()))
    else:
        try:
            data = json.loads(text)
            rows = data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            rows = []
            for i, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidArgumentError(
                        f"rows: not JSON, JSON Lines or CSV ({exc.msg})",
                        field="rows",
                        file=name,
                        row=i,
                    ) from None
    return [_normalise(r, {"file": name, "row": i}) for i, r in enumerate(rows, start=1)]


def runs_of(
    rows: Iterable[Mapping[str, Any]] | Mapping[str, Any] | str | os.PathLike[str],
) -> list[dict[str, Any]]:
    """The runs of :func:`calibrate`'s ``rows``, in the canonical columns (models not yet
    resolved)."""
    if isinstance(rows, (str, os.PathLike)):
        runs = read_runs(rows)
    elif isinstance(rows, Mapping):
        runs = [_normalise(rows, {})]
    else:
        # Rows from read_runs keep the file and row they came from.
        runs = [
            _normalise(r, _where(r, i) if isinstance(r, Mapping) else {"index": i})
            for i, r in enumerate(rows)
        ]
    if len(runs) > MAX_RUNS:
        # The core refuses it too; refused here before any model lookup.
        raise LimitExceededError(
            f"rows: {len(runs)} exceeds the limit of {MAX_RUNS}",
            field="rows",
            limit=MAX_RUNS,
            got=len(runs),
        )
    return runs


def resolve_model(name: Any, cat: Catalog, where: dict[str, Any] | None = None) -> Model:
    """A catalog model from a run's name: the name itself, else the last part of a Hugging
    Face id or path, lowercased (``Qwen/Qwen3-8B`` -> ``qwen3-8b``)."""
    where = where or {}
    # A run's model is a sub-field of the run ("rows.model", the convention of input rows);
    # the model= argument is "model".
    field = "rows.model" if where else "model"
    if isinstance(name, Model):
        return name
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(
            f"{field}: the run names no model; pass model=", field=field, **where
        )
    candidates = [name, name.rstrip("/").rsplit("/", 1)[-1].lower()]
    for c in candidates:
        try:
            return cat.model(c)
        except UnknownNameError:
            continue
    try:
        return cat.model(candidates[-1])
    except UnknownNameError as exc:
        if not where:
            raise
        raise exc.replace(
            field=field,
            reason=f"{exc.reason}; the run names {name!r}: pass model= (CLI: --model) to "
            "say which catalog model it is",
            **where,
        ) from None


def calibrate(
    rows: Iterable[Mapping[str, Any]] | Mapping[str, Any] | str | os.PathLike[str],
    hardware: str | Hardware,
    *,
    model: str | Model | None = None,
    name: str | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    catalog: Catalog | None = None,
    cancel: _cancel.CancelToken | None = None,
) -> Calibration:
    """Fit ``hardware``'s prefill MFU, decode bandwidth utilisation and per-step overhead to
    measured serving runs (docs/calibration.md).

    ``rows``: runs as mappings with the columns :data:`COLUMNS` (``gpus`` optional), vLLM
    serving-benchmark results (``vllm bench serve --save-result``), or a file of either
    (:func:`read_runs`). ``model`` names the catalog model of every run, for files that name
    none or a model the catalog does not know by that name. ``name`` names the calibrated entry
    (default ``<hardware>-calibrated``).

    ``bootstrap`` > 0 refits on that many resamples of the runs (drawn with replacement,
    deterministic per ``seed``; at most :data:`MAX_BOOTSTRAP`): ``samples`` holds each
    resample's parameters (columns :data:`PARAMETERS`) and :meth:`Calibration.interval` their
    percentile intervals (docs/calibration.md, "Intervals")."""
    boots = _whole("bootstrap", bootstrap, MAX_BOOTSTRAP)
    seed_ = _whole("seed", seed, 2**64 - 1)
    cat = catalog_or_default(catalog)
    hw = hardware if isinstance(hardware, Hardware) else cat.hardware(hardware)
    runs = runs_of(rows)
    forced = None if model is None else resolve_model(model, cat)
    models: list[Model] = []
    for i, run in enumerate(runs):
        where = _where(run, i)
        named = run.get("hardware")
        if named not in (None, "") and named != hw.name:
            raise InvalidArgumentError(
                f"hardware: the run was measured on {named!r}, not on {hw.name!r}",
                field="hardware",
                **where,
            )
        m = forced if forced is not None else resolve_model(run.get("model"), cat, where)
        models.append(m)
        run["model"] = m.name
    cols = {c: np.array([r[c] for r in runs], dtype=np.float64) for c in _NUMBERS}
    try:
        out = _core.calibrate(
            hw._native,
            [m._native for m in models],
            cols["batch"],
            cols["prompt_tokens"],
            cols["gen_tokens"],
            cols["gpus"],
            cols["ttft_s"],
            cols["tpot_s"],
            name=name,
            bootstrap=boots,
            seed=seed_,
            cancel=_cancel.resolve(cancel),
        )
    except ScaleplanError as exc:
        if exc.index is None or not 0 <= exc.index < len(runs):
            raise
        # The core names the run by its index; a run read from a file is named by its row.
        where = _where(runs[exc.index], exc.index)
        if "file" in where:
            raise exc.replace(index=None, **where) from None
        raise
    return Calibration(
        hardware=Hardware._from_native(out["hardware"]),
        parameters=dict(zip(PARAMETERS, out["parameters"], strict=True)),
        stderr=dict(zip(PARAMETERS, out["stderr"], strict=True)),
        at_bound=dict(zip(PARAMETERS, out["at_bound"], strict=True)),
        residuals={"ttft": out["ttft_relative"], "tpot": out["tpot_relative"]},
        predicted={"ttft_s": out["ttft_predicted_s"], "tpot_s": out["tpot_predicted_s"]},
        prefill_compute_bound=tuple(out["prefill_compute_bound"]),
        n_runs=int(out["n_runs"]),
        rms_relative_error=float(out["rms_relative_error"]),
        runs=tuple(runs),
        samples=np.asarray(out["samples"], dtype=np.float64).reshape(-1, len(PARAMETERS)),
        bootstrap=boots,
        seed=seed_,
        bootstrap_failed=int(out["bootstrap_failed"]),
    )


def _whole(name: str, value: Any, limit: int) -> int:
    """A whole-number option in [0, ``limit``]; above it a LimitExceededError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgumentError(f"{name}: expected a whole number, got {value!r}", field=name)
    if int(value) > limit:
        raise LimitExceededError(
            f"{name}: {value} exceeds the limit of {limit}", field=name, limit=limit, got=int(value)
        )
    if int(value) < 0:
        raise InvalidArgumentError(f"{name}: must be at least 0, got {value}", field=name)
    return int(value)


def _where(run: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Where a run came from, as error keywords: its file and row, else its index."""
    if run.get("file") is not None:
        return {"file": run["file"], "row": run.get("row")}
    return {"index": index}
