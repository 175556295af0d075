"""Plots from the command line: files written, valid, of plausible size; bad paths refused."""

from __future__ import annotations

from pathlib import Path

from cli_support import ok, png_ok, run, usage_error


def test_iso_cost_png_and_svg(tmp_path: Path) -> None:
    png = tmp_path / "iso.png"
    done = ok("plot", "iso-cost", "--no-prefill", "--gen-tokens", "256:32768:24", "--out", str(png))
    png_ok(png)
    assert f"wrote {png}" in done.stderr
    svg = tmp_path / "iso.svg"
    ok(
        "plot",
        "iso-cost",
        "--family",
        "llama-3.1",
        "--hardware",
        "h200",
        "--gpus",
        "8",
        "--gen-tokens",
        "1024,4096,16384",
        "--out",
        str(svg),
    )
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and len(text) > 10_000


def test_plan_allocation_plots(tmp_path: Path) -> None:
    alloc = tmp_path / "alloc.png"
    ok("plan", "training", "--budget", "1e18flops:1e26flops:30", "--plot", str(alloc))
    png_ok(alloc)
    life = tmp_path / "life.png"
    ok(
        "plan",
        "lifetime",
        "--target-loss",
        "1.9:2.4:12:lin",
        "--queries",
        "1e9,1e11",
        "--prompt-tokens",
        "512",
        "--gen-tokens",
        "1024",
        "--plot",
        str(life),
    )
    png_ok(life)


def test_bad_plot_paths_exit_2(tmp_path: Path) -> None:
    usage_error(run("plot", "iso-cost", "--out", str(tmp_path / "iso.jpg")), "--out")
    usage_error(run("plot", "iso-cost", "--out", str(tmp_path / "no" / "iso.png")), "--out")
    one = run("plan", "training", "--budget", "1e21flops", "--plot", str(tmp_path / "a.png"))
    usage_error(one, "--plot: needs at least two goals")
    assert not list(tmp_path.iterdir())
