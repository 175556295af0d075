"""The shipped hardware catalog (docs/catalog.md, "Hardware" and "Prices"): dense = sparse / 2
against the vendor sheets' sparse figures, plausible memory and bandwidth, dated prices, and
USD plans priced by the catalog unless a price argument overrides it."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
import scaleplan as sp
from cli_support import ok
from scaleplan import errors

CATALOG = Path(__file__).resolve().parents[1] / "rust" / "core" / "catalog" / "hardware.toml"

# The 2:4-sparse tensor figures the vendor sheets print, FLOP/s, with the precision they are
# printed to (transcribed from the sheets cited in hardware.toml, independently of its dense
# values): (bf16 sparse, fp8 sparse or None, precision).
SPARSE = {
    "a100-80gb": (624e12, None, 1e12),  # BF16 312 | 624*
    "h100-sxm": (1979e12, 3958e12, 1e12),  # 1,979* / 3,958*
    "h200": (1979e12, 3958e12, 1e12),
    "b200": (4.5e15, 9e15, 0.1e15),  # HGX B200: 36 PF / 8 sparse BF16; 72 PF / 8 FP8
    "gb200": (5000e12, 10000e12, 1e12),  # GB200 at 1,200 W: BF16 5000, FP8 10000 sparse
    "l40s": (733e12, 1466e12, 1e12),  # 733* / 1,466*
    "mi300x": (2614.9e12, 5229.8e12, 0.1e12),
    "mi325x": (2614.9e12, 5229.8e12, 0.1e12),
}
# Entries with no sparse figure to halve: no sparsity mode (TPUs, Gaudi 3), no sheet read
# (H20, MI355X: derived, see their comments), or not a sheet at all (the Kinetics setting).
NO_SPARSE = {"tpu-v5e", "tpu-v5p", "tpu-v6e", "gaudi3", "h20", "mi355x", "kinetics-b200"}


def shipped() -> list[sp.Hardware]:
    cat = sp.Catalog.shipped()
    return [cat.hardware(n) for n in cat.names()["hardware"]]


def test_at_least_twelve_accelerators_and_every_one_classified() -> None:
    names = {h.name for h in shipped()}
    assert len(names) >= 12
    for new in ("l40s", "h20", "gb200", "mi325x", "mi355x", "tpu-v5e", "tpu-v5p", "tpu-v6e"):
        assert new in names
    assert "gaudi3" in names
    assert names == set(SPARSE) | NO_SPARSE, "a new entry needs its sheet's sparse figures"


@pytest.mark.parametrize("name", sorted(SPARSE))
def test_dense_is_half_the_sheets_sparse_figure(name: str) -> None:
    hw = sp.hardware(name)
    bf16, fp8, precision = SPARSE[name]
    assert abs(2 * hw.peak_flops_bf16 - bf16) <= precision * (1 + 1e-9), hw.peak_flops_bf16
    if fp8 is None:
        assert hw.peak_flops_fp8 is None
    else:
        assert hw.peak_flops_fp8 is not None
        assert abs(2 * hw.peak_flops_fp8 - fp8) <= precision * (1 + 1e-9), hw.peak_flops_fp8


@pytest.mark.parametrize("hw", shipped(), ids=lambda h: h.name)
def test_memory_and_bandwidth_are_plausible(hw: sp.Hardware) -> None:
    # Per-GPU device memory of current accelerators: 16 GB (TPU v5e) to 288 GB (MI355X); HBM
    # bandwidth 0.8 TB/s (TPU v5e, L40S GDDR6) to 8 TB/s; SI units, so a GiB or a system
    # total slipped in would fall outside.
    assert 16e9 <= hw.hbm_bytes <= 300e9
    assert 0.8e12 <= hw.hbm_bytes_per_s <= 8.5e12
    # Arithmetic intensity (FLOP per byte at the roofline's ridge): H20's 37 to Kinetics' 562.5.
    assert 30 <= hw.peak_flops_bf16 / hw.hbm_bytes_per_s <= 600
    if hw.peak_flops_fp8 is not None:
        assert hw.peak_flops_bf16 <= hw.peak_flops_fp8 <= 2 * hw.peak_flops_bf16 * (1 + 1e-3)
    if hw.interconnect_bytes_per_s is not None:
        # Scale-up per GPU, both directions: 400 GB/s (TPU v5e ICI) to 1.8 TB/s (NVLink 5).
        assert 400e9 <= hw.interconnect_bytes_per_s <= 1.8e12


@pytest.mark.parametrize("hw", shipped(), ids=lambda h: h.name)
def test_a_price_is_dated_and_sourced_and_a_missing_one_says_why(hw: sp.Hardware) -> None:
    text = CATALOG.read_text()
    block = text.split(f'name = "{hw.name}"', 1)[1].split("[[hardware]]", 1)[0]
    if hw.usd_per_hour is None:
        assert not hw.price_date and not hw.price_source
        assert "usd_per_hour omitted:" in block, "an entry without a price says why"
        return
    assert 0.1 <= hw.usd_per_hour <= 20
    assert re.fullmatch(r"20\d\d-\d\d(-\d\d)?", hw.price_date)
    assert hw.price_source.startswith("https://")
    assert "# assumption" in block.split("usd_per_hour", 1)[1].split("\n", 1)[0]


def test_the_widely_rented_gpus_carry_a_price() -> None:
    for name in ("a100-80gb", "h100-sxm", "h200", "b200", "l40s", "mi300x", "mi325x"):
        assert sp.hardware(name).usd_per_hour is not None, name


@pytest.mark.parametrize("date", ["2026", "2026-13", "2026-00-10", "2026-05-32", "26-05", "x"])
def test_a_bad_price_date_is_an_error_naming_it(date: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.hardware("h100-sxm").replace(price_date=date)
    assert info.value.field == "price_date"


def test_user_entries_have_no_price_by_default_and_round_trip_theirs() -> None:
    hw = sp.Hardware(
        name="mine",
        peak_flops_bf16=1e15,
        hbm_bytes_per_s=3e12,
        hbm_bytes=80e9,
        train_mfu=0.4,
        prefill_mfu=0.6,
        decode_bw_util=0.8,
    )
    assert (hw.usd_per_hour, hw.price_date, hw.price_source) == (None, "", "")
    priced = hw.replace(usd_per_hour=2.0, price_date="2026-01", price_source="my invoice")
    cat = sp.Catalog.shipped()
    cat.add_toml(priced.to_toml())
    assert cat.hardware("mine") == priced


# ---- USD plans priced by the catalog ---------------------------------------------------------


def test_training_cost_in_dollars_is_gpu_hours_times_the_catalog_price() -> None:
    # By hand: 6 * 8.19e9 * 1e12 = 4.914e22 FLOPs at 989.4e12 * 0.40 = 3.9576e14 FLOP/s is
    # 1.24166e8 GPU-s = 34,490.6 GPU-h; at h100-sxm's $2.99 per GPU-hour: $103,127.
    t = sp.training_cost("qwen3-8b", 1e12, "h100-sxm")
    assert t.gpu_hours == pytest.approx(6 * 8.19e9 * 1e12 / (989.4e12 * 0.40) / 3600, rel=1e-12)
    assert t.usd == pytest.approx(103_127, rel=1e-5)
    assert sp.training_cost("qwen3-8b", 1e12, "gaudi3").usd is None


LIFETIME = {
    "target_loss": 2.1,
    "queries": 1e9,
    "prompt_tokens": 512,
    "gen_tokens": 1024,
    "hardware": "h100-sxm",
    "family": "qwen3-dense",
    "serving": sp.Serving(batch="unset"),
}


def test_a_usd_plan_without_a_price_uses_the_catalogs_and_a_price_argument_overrides_it() -> None:
    # Training and serving on one hardware at one price: dollars are GPU-hours times the price,
    # so the plan is the GPU-hour plan with every cost scaled by $2.99 (the catalog's) or by the
    # price given.
    hours = sp.plan_lifetime(**LIFETIME, unit="gpu_hours")
    usd = sp.plan_lifetime(**LIFETIME, unit="usd")
    assert usd.feasible and usd.params == pytest.approx(hours.params, rel=1e-9)
    for f in ("training_cost", "inference_cost", "total_cost"):
        assert getattr(usd, f) == pytest.approx(2.99 * getattr(hours, f), rel=1e-9), f
    given = sp.plan_lifetime(**LIFETIME, unit="usd", train_usd_per_hour=1.5, infer_usd_per_hour=1.5)
    assert given.total_cost == pytest.approx(1.5 * hours.total_cost, rel=1e-9)
    # No argument is the same as passing the catalog's price for both.
    explicit = sp.plan_lifetime(
        **LIFETIME, unit="usd", train_usd_per_hour=2.99, infer_usd_per_hour=2.99
    )
    for f in dataclasses.fields(usd):
        if f.name == "provenance":  # it says who named the price (docs/planning.md)
            assert explicit.provenance.kinds()["infer_usd_per_hour"] == "user"
            assert usd.provenance.kinds()["infer_usd_per_hour"] == "assumed"
            continue
        a, b = getattr(explicit, f.name), getattr(usd, f.name)
        assert a == b or (isinstance(b, float) and math.isnan(a) and math.isnan(b)), f.name


def test_a_usd_test_time_budget_is_seconds_at_the_catalog_price_unless_overridden() -> None:
    # A per-query budget of $B buys B / (price / 3600) replica-seconds: $0.01 at h200's $4.00 is
    # 9 s, at a given $6.00 it is 6 s.
    kw = {"hardware": "h200", "serving": sp.Serving(batch="unset")}
    catalog_priced = sp.plan_test_time(budget_usd=0.01, **kw)
    seconds = sp.plan_test_time(budget_seconds=9.0, **kw)
    assert catalog_priced.model == seconds.model
    assert catalog_priced.samples == seconds.samples
    assert catalog_priced.gen_tokens == pytest.approx(seconds.gen_tokens, rel=1e-9)
    assert catalog_priced.cost == pytest.approx(seconds.cost * 4.00 / 3600, rel=1e-9)
    given = sp.plan_test_time(budget_usd=0.01, usd_per_hour=6.0, **kw)
    six = sp.plan_test_time(budget_seconds=6.0, **kw)
    assert given.gen_tokens == pytest.approx(six.gen_tokens, rel=1e-9)
    assert given.cost == pytest.approx(six.cost * 6.0 / 3600, rel=1e-9)


def test_unpriced_hardware_asks_for_a_price_naming_the_argument() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_lifetime(**{**LIFETIME, "hardware": "gaudi3"}, unit="usd")
    assert info.value.field == "train_usd_per_hour"
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_test_time(budget_usd=0.01, hardware="gaudi3", serving=sp.Serving(batch="unset"))
    assert info.value.field == "usd_per_hour"
    assert math.isfinite(
        sp.plan_test_time(
            budget_usd=0.01, hardware="gaudi3", usd_per_hour=3.0, serving=sp.Serving(batch="unset")
        ).cost
    )


def test_a_usd_plans_header_names_the_price_it_used() -> None:
    h200 = sp.hardware("h200")
    out = ok("plan", "test-time", "--budget", "$0.01", "--hardware", "h200").stdout
    header = out.splitlines()[0]
    assert f"serving at ${h200.usd_per_hour:g}/GPU-h (h200's catalog price, an assumption" in header
    assert f"dated {h200.price_date}" in header
    out = ok("plan", "test-time", "--budget", "$0.01", "--hardware", "h200", "--usd-per-hour", "6")
    assert "serving at $6/GPU-h (given)" in out.stdout.splitlines()[0]
    out = ok("plan", "test-time", "--budget", "5s", "--hardware", "h200")
    assert "GPU-h" not in out.stdout.splitlines()[0]


# ---- Prices added with issue 14's remainder -------------------------------------------------


def test_a_tpu_v6e_plan_in_usd_needs_no_price_flag() -> None:
    # $2.70 per chip-hour (the catalog's dated assumption), by hand: C = 6 N D FLOPs at the
    # chip's 918 TFLOP/s bf16 peak times the assumed 0.40 MFU.
    hw = sp.hardware("tpu-v6e")
    assert (hw.usd_per_hour, hw.price_date) == (2.70, "2026-11")
    m, tokens = sp.model("qwen3-8b"), 1e12
    hours = 6 * m.flop_params * tokens / (918e12 * 0.40) / 3600
    cost = sp.training_cost("qwen3-8b", tokens, "tpu-v6e")
    assert cost.gpu_hours == pytest.approx(hours, rel=1e-12)
    assert cost.usd == pytest.approx(2.70 * hours, rel=1e-12)
    # The entries still without a price say so, and a USD plan on them asks for one.
    for name in ("h20", "gb200", "mi355x", "tpu-v5e", "tpu-v5p", "gaudi3"):
        assert sp.hardware(name).usd_per_hour is None, name
