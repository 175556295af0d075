"""The smooth family rule as the plans report it (docs/cost-model.md, "Families"): the implied
shape of the chosen size, through the façade, the CLI's --json and gRPC."""

from __future__ import annotations

import numpy as np
import pytest
import scaleplan as sp
from cli_support import json_lines, ok

LIFETIME = dict(
    queries=1e9,
    prompt_tokens=512,
    gen_tokens=1024,
    hardware="kinetics-b200",
    family="qwen3-dense",
    unit="eflops",
    law="sardana2023",  # the catalog law the sizes and targets below were chosen with
    serving=sp.Serving(batch="unset"),
)


def test_lifetime_reports_the_implied_shape_of_its_size() -> None:
    # Pinned at the members' sizes the shape is the fitted one, within the stated tolerances of
    # the catalog's: layers 28/28/36/36/40/64 within 17%, KV heads 8 and head size 128 exactly.
    sizes = [0.752e9, 2.03e9, 4.02e9, 8.19e9, 14.77e9, 32.76e9]
    layers = [28, 28, 36, 36, 40, 64]
    got = []
    for n, want in zip(sizes, layers, strict=True):
        p = sp.plan_lifetime(target_loss=2.3, min_params=n, max_params=n, **LIFETIME)  # type: ignore[arg-type]
        assert p.feasible and p.params == pytest.approx(n, rel=1e-9)
        assert p.kv_heads == pytest.approx(8, rel=1e-12)
        assert p.head_dim == pytest.approx(128, rel=1e-12)
        assert abs(float(p.layers) / want - 1) <= 0.17
        got.append(float(p.layers))
    # l(N) = exp(-0.8964) N^0.2013: strictly increasing, where the members repeat 28 and 36
    assert np.all(np.diff(got) > 0)
    assert got[0] == pytest.approx(np.exp(-0.8963883444411) * 0.752e9**0.20126315418736906)


def test_array_plans_and_two_n_pricing() -> None:
    p = sp.plan_lifetime(target_loss=np.array([2.3, 2.1, 1.0]), **LIFETIME)  # type: ignore[arg-type]
    assert isinstance(p.layers, np.ndarray) and p.layers.shape == (3,)
    assert p.layers[0] > 0 and p.layers[1] > 0
    assert not p.feasible[2] and np.isnan(p.layers[2])  # no plan: not applicable (NaN)
    two_n = sp.plan_lifetime(target_loss=2.1, queries=1e9, prompt_tokens=512, gen_tokens=1024)
    assert two_n.layers is None and two_n.head_dim is None
    assert "smooth shape rule" not in two_n.explain()
    assert "smooth shape rule" in sp.plan_lifetime(target_loss=2.1, **LIFETIME).explain()  # type: ignore[arg-type]


def test_joint_reports_the_implied_shape() -> None:
    p = sp.plan_joint(budget=np.array([1e4, 1e6]), queries=1e8)
    assert np.all(p.layers > 0) and np.all(p.query_heads > 0)
    # the larger budget trains the larger model, with more layers
    assert (p.params[1] > p.params[0]) == (p.layers[1] > p.layers[0])
    assert np.allclose(p.kv_heads, 8) and np.allclose(p.head_dim, 128)


def test_cli_json_carries_the_shape() -> None:
    out = ok(
        "plan",
        "lifetime",
        "--target-loss",
        "2.1",
        "--queries",
        "1e9",
        "--prompt-tokens",
        "512",
        "--gen-tokens",
        "1024",
        "--hardware",
        "kinetics-b200",
        "--family",
        "qwen3-dense",
        "--json",
    )
    [row] = json_lines(out.stdout)
    p = sp.plan_lifetime(
        target_loss=2.1,
        queries=1e9,
        prompt_tokens=512,
        gen_tokens=1024,
        hardware="kinetics-b200",
        family="qwen3-dense",
    )
    for name in ("layers", "query_heads", "kv_heads", "head_dim"):
        assert row[name] == pytest.approx(float(getattr(p, name)), rel=1e-12), name
    [joint] = json_lines(
        ok("plan", "joint", "--budget", "1e6gpu-h", "--queries", "1e8", "--json").stdout
    )
    assert joint["layers"] > 0 and joint["kv_heads"] == pytest.approx(8)


def test_grpc_carries_the_shape(client: sp.Client) -> None:
    want = sp.plan_lifetime(target_loss=2.1, **LIFETIME)  # type: ignore[arg-type]
    got = client.plan_lifetime(target_loss=2.1, **LIFETIME)  # type: ignore[arg-type]
    assert got.layers == want.layers and got.head_dim == want.head_dim
    two_n = client.plan_lifetime(target_loss=2.1, queries=1e9, prompt_tokens=512, gen_tokens=1024)
    assert two_n.layers is None
    joint = client.plan_joint(budget=1e6, queries=1e8)
    assert joint.layers == sp.plan_joint(budget=1e6, queries=1e8).layers
    frontier = client.frontier_joint(budgets=np.array([1e4, 1e6]), queries=1e8)
    assert np.array_equal(
        frontier.layers, sp.frontier_joint(budgets=np.array([1e4, 1e6]), queries=1e8).layers
    )
